#!/bin/bash
# A swift:// mount: 1 GiB byte for byte through an SLO (read back from Swift directly), listing
# pagination, an abandoned upload leaves no segments, rename, and the mount-time errors (bad
# credentials, missing container). Prints the 512 MiB write time through the mount and with curl -T.
# On RGW (SWIFT_SERVER=rgw) the large objects are DLOs and the big file is 256 MiB (RGW's memstore keeps
# about twice the bytes stored in RAM).
# snapfs-servers: swift rgw
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/swift.sh"

BIG_MIB=1024
[ "$SWIFT_SERVER" = swift ] || BIG_MIB=256
start_swift mem=$((BIG_MIB + 512))
swift_mkcontainer snap
swift_token
MNT=$T_DIR/mnt
OPTS=(--secret-dir "$SWIFT_SECRET" --cache-dir "$T_DIR/cache" --part-size 16M --cache-size 256M)

# mount-time errors: one line naming the problem, non-zero exit, nothing mounted
mkdir -p "$T_DIR/bad" "$T_DIR/errmnt"
cp "$SWIFT_SECRET"/* "$T_DIR/bad/"
printf 'wrong-key' >"$T_DIR/bad/ST_KEY"
set +e
err=$("$SNAPFS" swift://snap "$T_DIR/errmnt" --secret-dir "$T_DIR/bad" --log-file "$T_DIR/err1.log" 2>&1)
rc=$?
set -e
check "bad credentials: the mount fails" test "$rc" -ne 0
check "bad credentials: one line that says so" bash -c \
	'[ "$(wc -l <<<"$1")" = 1 ] && grep -q "authentication failed for user $2" <<<"$1"' _ "$err" "$SWIFT_USER"
check "bad credentials: the key is not shown" bash -c '! grep -q wrong-key <<<"$1"' _ "$err"
set +e
err=$("$SNAPFS" swift://no-such-container "$T_DIR/errmnt" --secret-dir "$SWIFT_SECRET" \
	--log-file "$T_DIR/err2.log" 2>&1)
rc=$?
set -e
check "missing container: the mount fails with one line" bash -c '[ "$1" -ne 0 ] &&
	[ "$(wc -l <<<"$2")" = 1 ] && grep -q "container .no-such-container. does not exist" <<<"$2"' _ "$rc" "$err"
check "nothing was mounted" bash -c "! mountpoint -q '$T_DIR/errmnt'"

# small listing pages: the marker pagination is used for every directory listing
SNAPFS_SWIFT_PAGE=40 mount_snapfs swift://snap "$MNT" "${OPTS[@]}"
S=$MNT/kubedb/demo/pg/snap1
mkdir -p "$S/many"
for i in $(seq -w 1 130); do echo "file $i" >"$S/many/f$i.txt"; done
check "listing pagination: 130 entries through pages of 40" test "$(ls "$S/many" | wc -l)" = 130
check "listing pagination: in Swift too" test "$(swift_count snap kubedb/demo/pg/snap1/many/f)" = 130
check "a small file reads back" test "$(cat "$S/many/f077.txt")" = "file 077"

# 1 GiB (RGW: 256 MiB) byte for byte through a large object, read back from Swift with curl (not
# through the mount)
head -c $((BIG_MIB * 1024 * 1024)) /dev/urandom >"$T_DIR/big.bin"
t0=$(date +%s.%N)
cp "$T_DIR/big.bin" "$S/big.bin"
t1=$(date +%s.%N)
log "$BIG_MIB MiB cp through the mount: $(echo "$t1 - $t0" | bc) s"
swift_token
swift_curl -D "$T_DIR/big.hdr" -o "$T_DIR/big.back" /snap/kubedb/demo/pg/snap1/big.bin
check "big: the object in Swift is byte for byte the file" cmp -s "$T_DIR/big.bin" "$T_DIR/big.back"
check "big: stored as a large object ($SWIFT_LARGE)" is_large_object "$T_DIR/big.hdr"
rm -f "$T_DIR/big.back"
segs=$(swift_count snap_segments)
check "big: segments of 16 MiB" test "$segs" = $((BIG_MIB / 16))
check "big: reads back through the mount" cmp -s "$T_DIR/big.bin" "$S/big.bin"

# rename: the manifest moves, the segments stay (owned by the new name), nothing is copied
mv "$S/big.bin" "$S/big-renamed.bin"
check "rename: the old name is gone" test ! -e "$S/big.bin"
check "rename: the segments were handed over, not copied" test "$(swift_count snap_segments)" = "$segs"
swift_curl -o "$T_DIR/big.back" /snap/kubedb/demo/pg/snap1/big-renamed.bin
check "rename: the new name has the bytes" cmp -s "$T_DIR/big.bin" "$T_DIR/big.back"
rm -f "$T_DIR/big.back"

# a failed upload: one of its segments vanishes before the commit, so Swift refuses the manifest
# (400), or, for a DLO, snapfs's own check of the segment listing refuses to commit; the writer (cp, which checks close) gets an error and every segment of the upload is deleted
mkfifo "$T_DIR/fifo"
cp "$T_DIR/fifo" "$S/failed.bin" 2>"$T_DIR/cp-failed.err" &
cp_pid=$!
exec 3>"$T_DIR/fifo"
head -c $((48 * 1024 * 1024)) /dev/urandom >&3
fprefix=kubedb/demo/pg/snap1/failed.bin/
for _ in $(seq 600); do [ "$(swift_count snap_segments "$fprefix")" -ge 2 ] && break; sleep 0.2; done
check "failed upload: segments were being uploaded" test "$(swift_count snap_segments "$fprefix")" -ge 2
first=$(swift_curl "/snap_segments?prefix=$fprefix" | head -n 1)
swift_curl -X DELETE -o /dev/null "/snap_segments/$first"
head -c $((5 * 1024 * 1024)) /dev/urandom >&3
exec 3>&-
set +e
wait "$cp_pid"
cp_rc=$?
set -e
check "failed upload: the writer sees the error at close" test "$cp_rc" -ne 0
check "failed upload: no segments left" test "$(swift_count snap_segments "$fprefix")" = 0
check "failed upload: no object" test "$(swift_count snap kubedb/demo/pg/snap1/failed)" = 0
check "failed upload: other segments untouched" test "$(swift_count snap_segments)" = "$segs"

# rm -r takes the manifests' segments along
rm -r "$S"
check "rm -r: the snapshot is gone" bash -c "! ls -A '$MNT/kubedb/demo/pg' | grep -qx snap1"
check "rm -r: no segments left" test "$(swift_count snap_segments)" = 0
check "rm -r: the container is empty" test "$(swift_count snap)" = 0

# 512 MiB: through the mount vs one direct upload of the same bytes
head -c $((BIG_MIB / 2 * 1024 * 1024)) "$T_DIR/big.bin" >"$T_DIR/half.bin"
rm -f "$T_DIR/big.bin"
mkdir -p "$MNT/kubedb/demo/pg/snap2"
t0=$(date +%s.%N)
cp "$T_DIR/half.bin" "$MNT/kubedb/demo/pg/snap2/half.bin"
t1=$(date +%s.%N)
swift_token
swift_curl -T "$T_DIR/half.bin" -o /dev/null /snap/direct-half.bin
t2=$(date +%s.%N)
log "$((BIG_MIB / 2)) MiB: through the mount $(echo "$t1 - $t0" | bc) s, curl -T $(echo "$t2 - $t1" | bc) s"
check "half: both objects have the size" test "$(swift_curl -I /snap/direct-half.bin | tr -d '\r' | \
	sed -n 's/^Content-Length: //Ip')" = $((BIG_MIB / 2 * 1024 * 1024))
check "half: the mounted copy reads back" cmp -s "$T_DIR/half.bin" "$MNT/kubedb/demo/pg/snap2/half.bin"

umount_snapfs "$MNT"
finish
