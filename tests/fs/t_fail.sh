#!/usr/bin/env bash
# Failure: a store that fills up in the middle of a write. The writer gets EIO (write or close), no
# partial object becomes visible, the previous version of the object stays as it was, no temporary
# upload is left behind, and the mount keeps working afterwards.
source "$SNAPFS_SRC/tests/lib/common.sh"

STORE=$T_DIR/store
mkdir -p "$STORE"
mount -t tmpfs -o size=40m tmpfs "$STORE"
T_MOUNTS+=("$STORE")
mount_snapfs "file://$STORE" "$T_DIR/mnt" --cache-dir "$T_DIR/cache" --part-size 4M --retries 0
D=$T_DIR/mnt/kubedb/demo/pg/snap

echo "version 1" >"$D/dumpfile.sql"
check "a small object is stored" test "$(cat "$STORE/kubedb/demo/pg/snap/dumpfile.sql")" = "version 1"

# 100 MiB into a 40 MiB store: an upload fails part way
set +e
dd if=/dev/urandom of="$D/dumpfile.sql" bs=1M count=100 status=none 2>"$T_DIR/dd.err"
rc=$?
set -e
check "the writer sees the failure (dd exit $rc)" test "$rc" -ne 0
check "the error is EIO" grep -q "Input/output error" "$T_DIR/dd.err"
check "the previous version is untouched" test "$(cat "$STORE/kubedb/demo/pg/snap/dumpfile.sql")" = "version 1"
check "no upload is left behind in the store" test -z "$(find "$STORE/.snapfs" -type f 2>/dev/null)"
check "the failure is in the log" eventually grep -q "NOT stored" "$T_DIR/snapfs-mnt.log"

# a failed new file: nothing at all becomes visible
set +e
head -c $((80 * 1024 * 1024)) /dev/zero | cat >"$D/new.sql" 2>/dev/null
set -e
check "a failed new file is not visible in the store" test ! -e "$STORE/kubedb/demo/pg/snap/new.sql"
# (the kernel may keep the name it created for its 1 s entry timeout)
gone() { for _ in $(seq 100); do [ ! -e "$1" ] && return 0; sleep 0.1; done; return 1; }
check "a failed new file is not visible in the mount" gone "$D/new.sql"

# the mount still works
echo "after" >"$D/after.txt"
check "the mount works after failures" test "$(cat "$STORE/kubedb/demo/pg/snap/after.txt")" = after
umount_snapfs "$T_DIR/mnt"

# The cache dir's disk itself full (an 8 MiB tmpfs under a --cache-size that claims more): the writes
# fail, the writer hears of it (at write or at close: the kernel's writeback may hold the error until
# then), and the bytes written before the hole are not published as a complete file.
STORE2=$T_DIR/store2
CACHE2=$T_DIR/cache2
mkdir -p "$STORE2" "$CACHE2"
mount -t tmpfs -o size=8m tmpfs "$CACHE2"
T_MOUNTS+=("$CACHE2")
mount_snapfs "file://$STORE2" "$T_DIR/mnt2" --cache-dir "$CACHE2" --cache-size 64M --part-size 16M
head -c 30M /dev/urandom >"$T_DIR/full.bin"
set +e
dd if="$T_DIR/full.bin" of="$T_DIR/mnt2/kubedb/demo/pg/full/dumpfile.sql" bs=1M conv=fsync status=none 2>"$T_DIR/full.err"
rc=$?
set -e
check "cache disk full: the writer sees the failure (dd exit $rc)" test "$rc" -ne 0
check "cache disk full: ENOSPC or EIO, not silence" grep -Eq "No space left|Input/output error" "$T_DIR/full.err"
check "cache disk full: no object, partial or whole" test ! -e "$STORE2/kubedb/demo/pg/full/dumpfile.sql"
check "cache disk full: the log says the file was not stored" eventually grep -q "full/dumpfile.sql: NOT stored" "$T_DIR/snapfs-mnt2.log"
check "cache disk full: the cache dir is empty again" test "$(df -k --output=used "$CACHE2" | tail -n 1)" -le 64
head -c 5M /dev/urandom >"$T_DIR/small.bin"
cp "$T_DIR/small.bin" "$T_DIR/mnt2/kubedb/demo/pg/full/dumpfile.sql"
check "cache disk full: a file that fits is stored afterwards" cmp -s "$T_DIR/small.bin" "$STORE2/kubedb/demo/pg/full/dumpfile.sql"
umount_snapfs "$T_DIR/mnt2"

# the same with --async-close: the close that would have returned early reports the loss instead,
# and nothing is left to upload later
mount_snapfs "file://$STORE2" "$T_DIR/mnt3" --cache-dir "$CACHE2" --cache-size 64M --part-size 16M --async-close
set +e
dd if="$T_DIR/full.bin" of="$T_DIR/mnt3/kubedb/demo/pg/full/async.sql" bs=1M status=none 2>"$T_DIR/full3.err"
rc=$?
set -e
check "async, cache disk full: the writer sees the failure (dd exit $rc)" test "$rc" -ne 0
check "async, cache disk full: no object" test ! -e "$STORE2/kubedb/demo/pg/full/async.sql"
check "async, cache disk full: the log says it was not stored" eventually grep -q "full/async.sql: NOT stored" "$T_DIR/snapfs-mnt3.log"
check "async, cache disk full: nothing waits in the journal" test -z "$(ls "$CACHE2"/journal-*/*.cl "$CACHE2"/journal-*/*.spool 2>/dev/null)"
umount_snapfs "$T_DIR/mnt3"
finish
