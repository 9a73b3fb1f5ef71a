#!/bin/bash
# What only a store that enforces the multipart rules can show (Ceph RGW; s3rver checks none of them):
# - a part under the store's 5 MiB minimum is never sent: with --part-size 1M snapfs raises the part size
#   (to the 5 MiB minimum, then to 10 MiB so that 10,000 parts hold 5 TiB), so RGW's EntityTooSmall
#   (refused at CompleteMultipartUpload) is never met: the object commits in 2 or 3 parts, as its ETag
#   ("...-N") shows, not 12;
# - the CompleteMultipartUpload reply of RGW carries an empty <ETag>: the object is still committed and
#   stat shows the real size.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/rgw.sh"
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN

start_rgw_s3 mem=256
MNT=$T_DIR/mnt
OPTS=(--secret-dir "$S3_SECRET" --endpoint "$S3_ENDPOINT" --cache-dir "$T_DIR/cache")

# ---------- --part-size 1M: raised to the store's minimum ----------
mount_snapfs s3://kubedb "$MNT" "${OPTS[@]}" --part-size 1M
S=$MNT/kubedb/demo/pg/parts
mkdir -p "$S"
head -c $((12 * 1024 * 1024)) /dev/urandom >"$T_DIR/f12.bin"
check "a 12 MiB file written with --part-size 1M" cp "$T_DIR/f12.bin" "$S/f12.bin"
check "it reads back from RGW byte for byte" s3get kubedb/kubedb/demo/pg/parts/f12.bin "$T_DIR/back.bin"
check "byte for byte" same_file "$T_DIR/f12.bin" "$T_DIR/back.bin"
etag=$(s3curl HEAD kubedb/kubedb/demo/pg/parts/f12.bin -I | tr -d '\r' | sed -n 's/^[Ee][Tt]ag: "\(.*\)"$/\1/p')
log "ETag of the 12 MiB object: $etag"
check "it was committed in parts of 5 MiB or more: 2 or 3, not 12 of 1 MiB (ETag $etag)" \
	bash -c '[ "$1" -ge 2 ] && [ "$1" -le 3 ]' _ "${etag##*-}"
check "no part was refused as too small" bash -c "! grep -q EntityTooSmall '$T_DIR/snapfs-mnt.log'"
check "stat shows the size (the empty <ETag> of the complete reply did not matter)" \
	test "$(stat -c %s "$S/f12.bin")" = $((12 * 1024 * 1024))
check "no multipart upload left open" no_open_uploads kubedb
check "the log says the part size was adjusted" grep -q "the store's limits adjusted --part-size" "$T_DIR/snapfs-mnt.log"
umount_snapfs "$MNT"

finish
