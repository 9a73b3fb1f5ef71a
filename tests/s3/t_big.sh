#!/bin/bash
# A 1 GiB file through the mount: written with cp (many parts in flight), then fetched from RGW with curl
# (its own SigV4, not through snapfs) and compared byte for byte; ranged reads through a fresh mount.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/rgw.sh"
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN

start_rgw_s3 mem=1300
head -c 1G /dev/urandom >"$T_DIR/big.bin"

MNT=$T_DIR/mnt
mount_snapfs s3://kubedb "$MNT" --secret-dir "$S3_SECRET" --endpoint "$S3_ENDPOINT" \
	--cache-dir "$T_DIR/cache" --cache-size 256M --part-size 16M --uploads 4
SNAP=$MNT/kubedb/demo/pg/big
mkdir -p "$SNAP"

start=$(date +%s.%N)
check "cp 1 GiB into the mount" cp "$T_DIR/big.bin" "$SNAP/big.bin"
log "1 GiB written in $(echo "$(date +%s.%N) - $start" | bc) s"
check "the file shows 1 GiB" test "$(stat -c %s "$SNAP/big.bin")" = $((1024 * 1024 * 1024))
check "the staging space stayed within --cache-size" test "$(du -sm "$T_DIR/cache" | cut -f1)" -le 300
# one file holds at most (--uploads + 1) parts of cache, however far the writer runs ahead of RGW
peak=$(python3 -c "import json; print(json.load(open('$MNT/.snapfs/status'))['cache']['peak'])")
check "the file held at most 5 parts of 16 MiB of cache (peak $peak)" test "$peak" -le $((80 * 1024 * 1024))
check "... and did use the parts in flight (peak $peak)" test "$peak" -ge $((32 * 1024 * 1024))

check "fetch the object with curl" s3get kubedb/kubedb/demo/pg/big/big.bin "$T_DIR/direct.bin"
check "the object in the bucket is the file, byte for byte" cmp "$T_DIR/big.bin" "$T_DIR/direct.bin"
rm -f "$T_DIR/direct.bin"
check "no multipart upload is left open" no_open_uploads kubedb
echo "a small one" >"$SNAP/small.txt"
s3curl HEAD kubedb/kubedb/demo/pg/big/small.txt -I | tr -d '\r' >"$T_DIR/small.hdr" || true
check "a small object's x-amz-meta-snapfs-sha256 is its SHA-256 (PutObject)" grep -qix \
	"x-amz-meta-snapfs-sha256: $(echo "a small one" | sha256sum | cut -d' ' -f1)" "$T_DIR/small.hdr"

umount_snapfs "$MNT"
mount_snapfs s3://kubedb "$MNT" --secret-dir "$S3_SECRET" --endpoint "$S3_ENDPOINT" --cache-dir "$T_DIR/cache2"
check "a fresh mount shows 1 GiB" test "$(stat -c %s "$SNAP/big.bin")" = $((1024 * 1024 * 1024))
check "the first 40 MB through a fresh mount" cmp -n 40000000 "$SNAP/big.bin" "$T_DIR/big.bin"
check "the last 10 MB" cmp <(tail -c 10000000 "$SNAP/big.bin") <(tail -c 10000000 "$T_DIR/big.bin")
check "a ranged read in the middle" \
	cmp <(tail -c +$((700 * 1024 * 1024 + 5)) "$SNAP/big.bin" | head -c 3000000) \
	    <(tail -c +$((700 * 1024 * 1024 + 5)) "$T_DIR/big.bin" | head -c 3000000)
umount_snapfs "$MNT"
finish
