# Shared by the snapctl tests: the binary, a slow writer that keeps an upload open, and small assertions.
SNAPCTL=$SNAPFS_BUILD/snapctl
[ -x "$SNAPCTL" ] || die "$SNAPCTL is not built"

# sc ARGS...: snapctl with stdout in $T_DIR/out and stderr in $T_DIR/err; returns snapctl's status
sc() {
	"$SNAPCTL" "$@" >"$T_DIR/out" 2>"$T_DIR/err"
}

# fails CMD...: CMD exits non-zero (its stderr in $T_DIR/err)
fails() { ! "$@" >/dev/null 2>"$T_DIR/err"; }
# fails_on INPUT CMD...: the same with INPUT on stdin
fails_on() { local in=$1; shift; ! printf '%s' "$in" | "$@" >/dev/null 2>"$T_DIR/err"; }
# lists DIR NAME: ls of DIR shows NAME
lists() { ls -1 "$1" | grep -qx -- "$2"; }

# has FILE REGEX: a line of FILE matches
has() { grep -qE -- "$2" "$1"; }
# lines FILE: number of lines
lines() { wc -l <"$1"; }
# one_line FILE: exactly one line (a clear one-line error)
one_line() { [ "$(lines "$1")" -eq 1 ]; }

# json_eq EXPR WANT: a python expression over the JSON in $T_DIR/out (as j) prints WANT
json_eq() {
	local got
	got=$(python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($1)" "$T_DIR/out") || return 1
	[ "$got" = "$2" ] || { echo "json: $1 = '$got', expected '$2'" >&2; return 1; }
}

# row FILE NAME: the table row of snapshot NAME (first column), words separated by single spaces
row() { awk -v n="$2" '$1 == n' "$1" | tr -s ' '; }

# slow_writer FILE MIB FLAG: write MIB MiB of random bytes to FILE, fsync (so the daemon has them and an
# upload is under way), create FLAG.ready, wait until FLAG exists, write 1 MiB more and close. The sha256
# of everything written goes to FILE's name in $T_DIR with .sha. Runs in the background; its PID is in
# $WRITER. wait_written FLAG waits (30 s at most) for the MIB MiB: the daemon's first part can leave
# long before the writer is done on a loaded machine.
slow_writer() {
	local file=$1 mib=$2 flag=$3
	python3 - "$file" "$mib" "$flag" "$T_DIR/$(basename "$file").sha" <<'PY' &
import hashlib, os, sys, time
path, mib, flag, shaf = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
h = hashlib.sha256()
with open(path, "wb") as f:
    for _ in range(mib):
        b = os.urandom(1 << 20)
        h.update(b)
        f.write(b)
    f.flush()
    os.fsync(f.fileno())
    open(flag + ".ready", "w").close()
    for _ in range(1200):
        if os.path.exists(flag):
            break
        time.sleep(0.05)
    b = os.urandom(1 << 20)
    h.update(b)
    f.write(b)
open(shaf, "w").write(h.hexdigest() + "\n")
PY
	WRITER=$!
	T_PIDS+=("$WRITER")
}
wait_written() {
	for _ in $(seq 300); do
		[ -e "$1.ready" ] && return 0
		sleep 0.1
	done
	return 1
}

# wait_uploading MNT PATH: until the mount's status shows PATH with uploaded bytes
wait_uploading() {
	local mnt=$1 path=$2
	for _ in $(seq 300); do
		if python3 - "$mnt/.snapfs/status" "$path" <<'PY' 2>/dev/null; then return 0; fi
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if any(u["path"].lstrip("/") == sys.argv[2].lstrip("/") and u["bytes_uploaded"] > 0
                  for u in d["uploads"]) else 1)
PY
		sleep 0.1
	done
	echo "no upload of $path showed up in the status of $mnt" >&2
	return 1
}

# store_suite SOURCE [credential options...]: snapctl ls, describe, rm against a store, with the snapshots
# written through a snapfs mount of the same SOURCE and checked through that mount afterwards. SOURCE
# should carry a prefix (bucket/prefix) so the object path form {bucket}/{prefix}/kubedb/... is checked.
store_suite() {
	local src=$1; shift
	local mnt=$T_DIR/mnt k want_path
	mount_snapfs "$src" "$mnt" "$@" --cache-dir "$T_DIR/cache" --meta-ttl 0
	k=$mnt/kubedb
	mkdir -p "$k/demo/pg/snap1" "$k/demo/pg/snap10/extra"
	head -c 3M /dev/urandom >"$T_DIR/d1"
	head -c 1M /dev/urandom >"$T_DIR/d10"
	cp "$T_DIR/d1" "$k/demo/pg/snap1/dumpfile.sql"
	cp "$T_DIR/d10" "$k/demo/pg/snap10/dumpfile.sql"
	echo "taken by the nightly job" >"$k/demo/pg/snap10/extra/notes.txt"

	check "ls" sc ls "$src" "$@"
	cat "$T_DIR/out"
	check "ls: snap1 row" test "$(row "$T_DIR/out" snap1 | cut -d' ' -f2-6)" = "demo pg 1 3.0 MiB"
	check "ls: snap10 row" test "$(row "$T_DIR/out" snap10 | cut -d' ' -f2-6)" = "demo pg 2 1.0 MiB"
	check "ls -o json" sc ls "$src" demo/pg -o json "$@"
	check "ls json: names, files, sizes" \
		json_eq '[(s["name"], s["files"], s["size"], s["status"]) for s in j]' \
		"[('snap1', 1, 3145728, 'Succeeded'), ('snap10', 2, 1048601, 'Succeeded')]"
	check "describe" sc describe "$src" demo/pg/snap10 "$@"
	cat "$T_DIR/out"
	want_path=${src#*://}/kubedb/demo/pg/snap10/
	check "describe: path {bucket}/{prefix}/kubedb/ns/db/snap/" has "$T_DIR/out" "^Path: +$want_path\$"
	check "describe: store" has "$T_DIR/out" "^Store: +${src%%://*}:$(echo "${src#*://}" | cut -d/ -f1)\$"
	check "describe -o json" sc describe "$src" demo/pg/snap10 -o json "$@"
	check "describe json: objects with sizes" \
		json_eq '[(o["name"], o["size"]) for o in j["objects"] if not o["folder"]]' \
		"[('dumpfile.sql', 1048576), ('extra/notes.txt', 25)]"
	check "describe json: every object has a checksum or ETag" \
		json_eq 'all(o["etag"] for o in j["objects"] if not o["folder"])' "True"

	# a dump in progress
	mkdir -p "$k/demo/pg/live"
	slow_writer "$k/demo/pg/live/dumpfile.sql" 12 "$T_DIR/go"
	check "the writer has written its 12 MiB" wait_written "$T_DIR/go"
	check "a dump in progress shows in the mount's status" \
		wait_uploading "$mnt" kubedb/demo/pg/live/dumpfile.sql
	check "ls during the dump" sc ls "$src" demo/pg "$@"
	if grep -q 'cannot list uploads in progress' "$T_DIR/err"; then
		log "the ${src%%://*} backend cannot report uploads in progress: no Running status here"
		check "ls during the dump: not shown as complete" \
			bash -c "! grep -qE '^live .* Succeeded$' '$T_DIR/out'"
	else
		check "ls during the dump: Running" has "$T_DIR/out" '^live +demo +pg +0 .* Running$'
		check "rm refuses while the dump runs" fails "$SNAPCTL" rm "$src" demo/pg/live --yes "$@"
		# a snapshot with nothing stored yet: the upload alone (Azure once searched an empty list)
		check "describe during the dump" sc describe "$src" demo/pg/live "$@"
		cat "$T_DIR/out"
		# the bytes its finished parts hold: none yet on a store that counts only finished parts
		check "describe during the dump: the upload, nothing stored" \
			has "$T_DIR/out" '^  dumpfile.sql +[0-9.]+ ([KMG]i)?B uploaded$'
		check "describe during the dump: no object yet" bash -c "! grep -q '^Objects:' '$T_DIR/out'"
	fi

	check "rm --yes snap1" sc rm "$src" demo/pg/snap1 --yes "$@"
	check "rm: reports it" has "$T_DIR/out" '^deleted snapshot demo/pg/snap1: 1 file, 3.0 MiB$'
	check "rm: snap1 is gone" fails "$SNAPCTL" describe "$src" demo/pg/snap1 "$@"
	check "rm: snap10 is whole (snap1 did not take it along)" \
		same_file "$T_DIR/d10" "$k/demo/pg/snap10/dumpfile.sql"
	check "rm: snap10 keeps its sub-folder" test -f "$k/demo/pg/snap10/extra/notes.txt"
	check "rm: the mount no longer lists snap1" bash -c "! ls -1 '$k/demo/pg' | grep -qx snap1"
	check "rm of a missing snapshot fails" fails "$SNAPCTL" rm "$src" demo/pg/snap1 --yes "$@"

	touch "$T_DIR/go"
	check "the dump finishes" wait "$WRITER"
	check "after the dump" sc ls "$src" demo/pg -o json "$@"
	check "after the dump: live Succeeded with its size" \
		json_eq '[(s["name"], s["status"], s["size"]) for s in j]' \
		"[('live', 'Succeeded', 13631488), ('snap10', 'Succeeded', 1048601)]"
	check "rm --yes live and snap10" bash -c "'$SNAPCTL' rm '$src' demo/pg/live --yes $* >/dev/null &&
		'$SNAPCTL' rm '$src' demo/pg/snap10 --yes $* >/dev/null"
	check "nothing left" sc ls "$src" -o json "$@"
	check "nothing left: []" json_eq 'j' "[]"
	umount_snapfs "$mnt"
}
