#!/usr/bin/env bash
# The read path's tuning on a real mount: the kernel read-ahead of the mount is 1 MiB (FUSE alone would
# leave it at 128 KiB), a cold sequential read and reads at scattered offsets return the stored bytes,
# and a read of a file's head does not pull the whole object.
source "$SNAPFS_SRC/tests/lib/common.sh"

STORE=$T_DIR/store
D=$STORE/kubedb/demo/pg/ra
mkdir -p "$D"
head -c $((96 << 20)) /dev/urandom >"$D/data.bin"
mount_snapfs "file://$STORE" "$T_DIR/mnt" --cache-dir "$T_DIR/cache"
F=$T_DIR/mnt/kubedb/demo/pg/ra/data.bin

dev=$(mountpoint -d "$T_DIR/mnt")
check "the mount's kernel read-ahead is 1 MiB" test "$(cat "/sys/class/bdi/$dev/read_ahead_kb")" = 1024

# the head of the file: a few MiB of read-ahead at most, not the object
sync
echo 3 >/proc/sys/vm/drop_caches
pid=$(cat "$T_DIR/snapfs-mnt.pid")
rchar() { awk '$1 == "rchar:" {print $2}' "/proc/$pid/io"; }
r0=$(rchar)
check "a read of the head gives the stored bytes" cmp -s <(head -c 4096 "$F") <(head -c 4096 "$D/data.bin")
sleep 0.5   # the release (which waits for read-ahead in flight) comes after close returns
got=$(( $(rchar) - r0 ))
check "a read of the head fetched a few MiB, not the object ($got bytes)" test "$got" -le $((8 << 20))

echo 3 >/proc/sys/vm/drop_caches
check "a cold sequential read gives the stored bytes" cmp -s "$F" "$D/data.bin"
for sk in 0 1 7 50 93 95; do
	echo 3 >/proc/sys/vm/drop_caches
	check "dd skip=$sk gives the stored bytes" \
		cmp -s <(dd if="$F" bs=1M skip=$sk count=1 status=none) <(dd if="$D/data.bin" bs=1M skip=$sk count=1 status=none)
done
echo 3 >/proc/sys/vm/drop_caches
check "a 4 KiB read at an odd offset gives the stored bytes" \
	cmp -s <(dd if="$F" bs=4k skip=12345 count=1 status=none) <(dd if="$D/data.bin" bs=4k skip=12345 count=1 status=none)
check "the end of the file" cmp -s <(tail -c 100001 "$F") <(tail -c 100001 "$D/data.bin")
umount_snapfs "$T_DIR/mnt"
finish
