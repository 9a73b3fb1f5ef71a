#!/bin/bash
# snapctl ls / describe / rm / status against a file:// store, with snapshots written through a real mount
# (and a dump in progress for Running, status and the refusal to delete under a writer).
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/snapctl/lib.sh"

VOL=$T_DIR/vol
MNT=$T_DIR/mnt
SRC=file://$VOL
mkdir -p "$VOL"
mount_snapfs "$SRC" "$MNT" --cache-dir "$T_DIR/cache" --part-size 1M --meta-ttl 0
K=$MNT/kubedb

# --- snapshots written through the mount
mkdir -p "$K/demo/pg/snap1" "$K/demo/pg/snap10/extra" "$K/demo/my/my-20250101-000000" "$K/other/pg/x"
head -c 3M /dev/urandom >"$T_DIR/d1"
head -c 2M /dev/urandom >"$T_DIR/d10"
cp "$T_DIR/d1" "$K/demo/pg/snap1/dumpfile.sql"
cp "$T_DIR/d10" "$K/demo/pg/snap10/dumpfile.sql"
echo "taken by the nightly job" >"$K/demo/pg/snap10/extra/notes.txt"
echo "SELECT 1;" >"$K/demo/my/my-20250101-000000/dump.sql"
echo "x" >"$K/other/pg/x/dump.sql"
# wal-g's archive beside the snapshots is no snapshot
mkdir -p "$VOL/kubedb/demo/pg/archive/wal_005"
echo wal >"$VOL/kubedb/demo/pg/archive/wal_005/000000010000000000000001"

# --- ls
check "ls: runs" sc ls "$SRC"
cat "$T_DIR/out"
check "ls: header" has "$T_DIR/out" '^NAME +NAMESPACE +DATABASE +FILES +SIZE +LAST-MODIFIED +STATUS$'
check "ls: snap1 row" test "$(row "$T_DIR/out" snap1 | cut -d' ' -f2-6)" = "demo pg 1 3.0 MiB"
check "ls: snap10 row (2 files)" test "$(row "$T_DIR/out" snap10 | cut -d' ' -f2-6)" = "demo pg 2 2.0 MiB"
check "ls: statuses" test "$(awk 'NR > 1 {print $NF}' "$T_DIR/out" | sort -u)" = "Succeeded"
check "ls: every snapshot, sorted" \
	test "$(awk 'NR > 1 {print $2 "/" $3 "/" $1}' "$T_DIR/out" | tr '\n' ' ')" = \
	"demo/my/my-20250101-000000 demo/pg/snap1 demo/pg/snap10 other/pg/x "
check "ls: the WAL archive is not a snapshot" bash -c "! grep -q '^archive ' '$T_DIR/out'"
check "ls --all: shows the archive" sc ls "$SRC" --all
check "ls --all: archive row" has "$T_DIR/out" '^archive +demo +pg +1 '
check "ls: last-modified is a UTC time" has "$T_DIR/out" '^snap1 .* 20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z '

check "ls NS/DB -o json" sc ls "$SRC" demo/pg -o json
check "ls json: names" json_eq '[s["name"] for s in j]' "['snap1', 'snap10']"
check "ls json: exact sizes" json_eq '[s["size"] for s in j]' "[3145728, $((2097152 + 25))]"
check "ls json: files" json_eq '[s["files"] for s in j]' "[1, 2]"
check "ls json: status" json_eq '{s["status"] for s in j}' "{'Succeeded'}"
check "ls NS" sc ls "$SRC" other -o json
check "ls NS: only that namespace" json_eq '[(s["namespace"], s["name"]) for s in j]' "[('other', 'x')]"
check "ls NS/DB/: a trailing slash is fine" sc ls "$SRC" demo/pg/ -o json
check "ls of an empty namespace" sc ls "$SRC" nobody
check "ls of an empty namespace says so" has "$T_DIR/err" '^No snapshots found'
check "ls json of nothing" sc ls "$SRC" nobody -o json
check "ls json of nothing is []" json_eq 'j' "[]"
check "ls NS/DB/SNAP is refused" fails "$SNAPCTL" ls "$SRC" demo/pg/snap1
check "ls ../x is refused" fails "$SNAPCTL" ls "$SRC" ../x

# --- describe
check "describe" sc describe "$SRC" demo/pg/snap10
cat "$T_DIR/out"
check "describe: store" has "$T_DIR/out" "^Store: +local:$VOL\$"
check "describe: path with the slash" has "$T_DIR/out" "^Path: +$VOL/kubedb/demo/pg/snap10/\$"
check "describe: status" has "$T_DIR/out" '^Status: +Succeeded$'
check "describe: sizes" has "$T_DIR/out" '^Size: +2.0 MiB \(2097177 bytes\)$'
check "describe: the dump with its size" has "$T_DIR/out" '^  dumpfile.sql +2097152 +20'
check "describe: a file in a sub-folder" has "$T_DIR/out" '^  extra/notes.txt +25 '
check "describe -o json" sc describe "$SRC" demo/pg/snap10 -o json
check "describe json: objects" json_eq '[(o["name"], o["size"]) for o in j["objects"] if not o["folder"]]' \
	"[('dumpfile.sql', 2097152), ('extra/notes.txt', 25)]"
check "describe json: every object has an ETag" json_eq 'all(o["etag"] for o in j["objects"])' "True"
check "describe json: path" json_eq 'j["path"]' "$VOL/kubedb/demo/pg/snap10/"
check "describe of a missing snapshot fails" fails "$SNAPCTL" describe "$SRC" demo/pg/snap2
check "describe of a missing snapshot: one line" one_line "$T_DIR/err"
check "describe of a missing snapshot: says not found" has "$T_DIR/err" 'snapshot demo/pg/snap2 not found'
check "describe needs NS/DB/SNAP" fails "$SNAPCTL" describe "$SRC" demo/pg

# --- rm
check "rm: answering no deletes nothing" fails_on $'n\n' "$SNAPCTL" rm "$SRC" demo/pg/snap1
check "rm: the question names the snapshot" \
	has "$T_DIR/err" 'Delete snapshot demo/pg/snap1 \(1 file, 3.0 MiB\)'
check "rm: still there after no" same_file "$T_DIR/d1" "$VOL/kubedb/demo/pg/snap1/dumpfile.sql"
check "rm: no answer (EOF) deletes nothing" fails_on "" "$SNAPCTL" rm "$SRC" demo/pg/snap1
check "rm: still there after EOF" test -f "$VOL/kubedb/demo/pg/snap1/dumpfile.sql"
check "rm --yes snap1" sc rm "$SRC" demo/pg/snap1 --yes
check "rm: reports what it deleted" has "$T_DIR/out" '^deleted snapshot demo/pg/snap1: 1 file, 3.0 MiB$'
check "rm: snap1 is gone from the store" test ! -e "$VOL/kubedb/demo/pg/snap1"
check "rm: snap10 is untouched (the prefix ends with a slash)" same_file "$T_DIR/d10" \
	"$VOL/kubedb/demo/pg/snap10/dumpfile.sql"
check "rm: snap10 untouched through the mount" same_file "$T_DIR/d10" "$K/demo/pg/snap10/dumpfile.sql"
check "rm: the mount no longer lists snap1" bash -c "! ls -1 '$K/demo/pg' | grep -qx snap1"
check "rm: the mount still lists snap10" lists "$K/demo/pg" snap10
check "rm: y on stdin" bash -c "echo y | '$SNAPCTL' rm '$SRC' demo/pg/snap10 >/dev/null 2>&1"
check "rm: snap10 gone with its sub-folder" test ! -e "$VOL/kubedb/demo/pg/snap10"
check "rm: the database folder stays" test -d "$VOL/kubedb/demo/pg"
check "rm: the archive stays" test -f "$VOL/kubedb/demo/pg/archive/wal_005/000000010000000000000001"
check "rm of a missing snapshot fails" fails "$SNAPCTL" rm "$SRC" demo/pg/snap1 --yes
check "rm of a missing snapshot: one line" one_line "$T_DIR/err"
check "rm needs NS/DB/SNAP" fails "$SNAPCTL" rm "$SRC" demo --yes
check "rm refuses .." fails "$SNAPCTL" rm "$SRC" demo/pg/.. --yes
check "ls after rm" sc ls "$SRC" demo -o json
check "ls after rm: names" json_eq '[s["name"] for s in j]' "['my-20250101-000000']"

# --- a dump in progress: Running, status, and rm refuses without --force
mkdir -p "$K/demo/pg/live"
slow_writer "$K/demo/pg/live/dumpfile.sql" 6 "$T_DIR/go"
check "the writer has written its 6 MiB" wait_written "$T_DIR/go"
check "a dump in progress shows in the status" wait_uploading "$MNT" kubedb/demo/pg/live/dumpfile.sql
check "status" sc status "$MNT"
cat "$T_DIR/out"
check "status: header" has "$T_DIR/out" '^FILE +WRITTEN +UPLOADED +IN-FLIGHT +DONE +RATE +STATE +AGE +ERROR'
check "status: the upload" \
	has "$T_DIR/out" '^/?kubedb/demo/pg/live/dumpfile.sql +6.0 MiB +[0-9.]+ [KM]iB .* (streaming|staging) '
check "status: the source" has "$T_DIR/out" "^snapfs .* on $MNT: $SRC "
check "status -o json" sc status "$MNT" -o json
check "status json: the upload" \
	json_eq '[(u["path"].lstrip("/"), u["bytes_written"]) for u in j["uploads"]]' \
	"[('kubedb/demo/pg/live/dumpfile.sql', 6291456)]"
check "status --watch --count 3" sc status "$MNT" --watch --count 3 --interval 0.2
check "status --watch: three screens" test "$(grep -c '^snapfs ' "$T_DIR/out")" -eq 3
check "status --watch: a progress bar" \
	has "$T_DIR/out" '^\[[=> ]{24}\] +[0-9]+%  .* stored  /?kubedb/demo/pg/live/dumpfile.sql$'
check "ls: a dump in progress is Running" sc ls "$SRC" demo/pg
check "ls: Running row" has "$T_DIR/out" '^live +demo +pg +0 +[0-9.]+ ([KMG]i)?B .* Running$'
check "rm refuses while a dump runs" fails "$SNAPCTL" rm "$SRC" demo/pg/live --yes
check "rm refusal says why" has "$T_DIR/err" 'upload in progress \(dumpfile.sql\).*--force'
check "describe: upload in progress" sc describe "$SRC" demo/pg/live
check "describe: lists the upload" has "$T_DIR/out" '^  dumpfile.sql +[0-9.]+ ([KMG]i)?B uploaded$'
touch "$T_DIR/go"
check "the writer finishes" wait "$WRITER"
check "after the dump: Succeeded" sc ls "$SRC" demo/pg -o json
check "after the dump: status and size" json_eq '[(s["name"], s["status"], s["size"]) for s in j]' \
	"[('live', 'Succeeded', 7340032)]"
check "after the dump: the content" \
	test "$(sha256sum <"$VOL/kubedb/demo/pg/live/dumpfile.sql" | cut -d' ' -f1)" = \
	"$(cat "$T_DIR/dumpfile.sql.sha")"
check "status: nothing in progress" sc status "$MNT"
check "status: says so" has "$T_DIR/out" '^no uploads in progress$'

# --- errors a user sees: one line, non-zero
check "status of a directory that is no mount" fails "$SNAPCTL" status "$T_DIR"
check "status of no mount: one line" one_line "$T_DIR/err"
check "status of no mount: says so" has "$T_DIR/err" 'is not a running snapfs mount'
check "an unknown store" fails "$SNAPCTL" ls ftp://x
check "an unknown store: one line" one_line "$T_DIR/err"
check "an unknown store: says so" has "$T_DIR/err" 'unknown store'
check "a missing directory" fails "$SNAPCTL" ls file://$T_DIR/nope
check "a missing directory: says so" has "$T_DIR/err" 'does not exist'
check "a missing secret dir" fails "$SNAPCTL" ls "$SRC" --secret-dir "$T_DIR/nosecret"
check "a missing secret dir: names it" has "$T_DIR/err" "secret-dir $T_DIR/nosecret"
check "an unknown command" fails "$SNAPCTL" frobnicate
check "a bad -o" fails "$SNAPCTL" ls "$SRC" -o yaml
for cmd in ls describe rm status; do
	check "$cmd --help" sc "$cmd" --help
	check "$cmd --help: usage" has "$T_DIR/out" "^usage: snapctl $cmd "
done
check "--help" sc --help
check "--help lists the commands" has "$T_DIR/out" '^  status MOUNTPOINT'
check "--version" sc --version

umount_snapfs "$MNT"
finish
