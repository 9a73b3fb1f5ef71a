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
check "the failure is in the log" grep -q "NOT stored" "$T_DIR/snapfs-mnt.log"

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
finish
