#!/usr/bin/env bash
# A 1 GiB file through a cache far smaller than the file: dd writes it, the writer waits when the
# cache is full (never fails), the stored bytes are identical, the cache never exceeds its limit, and
# a cold read through the mount gives the same bytes back.
source "$SNAPFS_SRC/tests/lib/common.sh"

STORE=$T_DIR/store
CACHE=$T_DIR/cache
mkdir -p "$STORE" "$CACHE"
# the cache dir is a 48 MiB tmpfs: a 1 GiB file can only pass through it with back-pressure
mount -t tmpfs -o size=48m tmpfs "$CACHE"
T_MOUNTS+=("$CACHE")
mount_snapfs "file://$STORE" "$T_DIR/mnt" --cache-dir "$CACHE" --cache-size 40M --part-size 8M --uploads 3
F=$T_DIR/mnt/kubedb/demo/pg/big/dumpfile.sql

head -c 1G /dev/urandom >"$T_DIR/src.bin"
# sample the cache file system's use while dd runs (the spool files are unlinked: du cannot see them)
( while :; do df -k --output=used "$CACHE" | tail -n 1; sleep 0.05; done ) >"$T_DIR/cache-samples" &
SAMPLER=$!
T_PIDS+=("$SAMPLER")
dd if="$T_DIR/src.bin" of="$F" bs=1M status=none
kill "$SAMPLER"
check "1 GiB: the stored object is byte for byte the source" cmp -s "$T_DIR/src.bin" "$STORE/kubedb/demo/pg/big/dumpfile.sql"
peak=$(python3 -c "import json; print(json.load(open('$T_DIR/mnt/.snapfs/status'))['cache']['peak'])")
check "the cache accounting never went over --cache-size (peak $peak)" test "$peak" -le $((40 * 1024 * 1024))
check "one file held at most (--uploads + 1) x --part-size = 32 MiB (peak $peak)" test "$peak" -le $((32 * 1024 * 1024))
disk=$(sort -n "$T_DIR/cache-samples" | tail -n 1)
check "the cache dir never held more than the limit on disk (peak ${disk} KiB)" test "$disk" -le $((41 * 1024))
check "the sampler saw the spool (peak ${disk} KiB)" test "$disk" -ge 4096
check "nothing is left in the cache dir" test "$(df -k --output=used "$CACHE" | tail -n 1)" -le 64

sync
echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
check "a cold read through the mount returns the same bytes" cmp -s "$T_DIR/src.bin" "$F"
check "a read at an offset (dd skip) returns the same bytes" \
	cmp -s <(dd if="$F" bs=1M skip=777 count=3 status=none) <(dd if="$T_DIR/src.bin" bs=1M skip=777 count=3 status=none)
check "stat shows the size" test "$(stat -c %s "$F")" = $((1024 * 1024 * 1024))

umount_snapfs "$T_DIR/mnt"
finish
