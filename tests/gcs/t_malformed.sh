# Malformed replies from the store give EIO to the caller, never a crash or a half-made object:
# listings that are not JSON or have the wrong shape, an object resource without a size, a 308 with a
# Range header that does not parse, an upload reply that is not the object. The mount stays usable.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/gcs.sh"

start_gcs_server
# objects made behind the mount's back, so nothing about them is cached by the mount
printf 'seeded\n' >"$T_DIR/seed.txt"
for n in a b c; do gcs_put "kubedb/demo/pg/s1/$n.txt" "$T_DIR/seed.txt"; done
gcs_put kubedb/demo/pg/s2/x.txt "$T_DIR/seed.txt"
M=$T_DIR/mnt
mount_snapfs gs://kubedb "$M" --secret-dir "$GCS_SECRET" --endpoint "$GCS_URL" --cache-dir "$T_DIR/cache" \
	--retries 1
D=$M/kubedb/demo/pg

fails_eio() { ! "$@" 2>"$T_DIR/err.txt" && grep -q "Input/output error" "$T_DIR/err.txt"; }

gcs_fault '{"garbage": 1000, "match": "GET /storage/v1/b/kubedb/o?", "body": "{\"items\": 5}"}'
check "a listing with items of the wrong type: EIO" fails_eio ls "$D/s1"
gcs_fault '{"garbage": 1000, "match": "GET /storage/v1/b/kubedb/o?", "body": "<html>busy</html>"}'
check "a listing that is not JSON: EIO" fails_eio ls "$D/s1"
gcs_fault '{"garbage": 1000, "match": "GET /storage/v1/b/kubedb/o", "body": "{\"name\": \"x\"}"}'
check "an object resource without a size: EIO" fails_eio stat "$D/s2/x.txt"
gcs_fault '{"garbage": 0}'
check "the mount is still there" mountpoint -q "$M"
check "and lists again once the server behaves" [ "$(ls "$D/s1" | tr '\n' ' ')" = "a.txt b.txt c.txt " ]
check "and reads" [ "$(cat "$D/s2/x.txt")" = seeded ]

head -c $((20 * 1024 * 1024)) /dev/urandom >"$T_DIR/big.bin"
gcs_fault '{"bad_range": 1}'
check "an upload answered with a malformed Range: the writer gets EIO" fails_eio cp "$T_DIR/big.bin" "$D/s1/big.bin"
check "no object from the failed upload" [ ! -e "$(gcs_obj_path kubedb/demo/pg/s1/big.bin)" ]
check "its session was cancelled" [ "$(gcs_stat sessions_cancelled)" -ge 1 ]
check "no session left open" [ "$(gcs_stat sessions_open)" -eq 0 ]

gcs_fault '{"garbage": 1, "match": "uploadType=multipart", "body": "{\"kind\": \"storage#object\"}"}'
check "a simple upload answered with no object: the writer gets EIO" \
	fails_eio cp "$T_DIR/seed.txt" "$D/s1/small.txt"
check "a later write works" cp "$T_DIR/big.bin" "$D/s1/big2.bin"
check "and is stored whole" cmp "$T_DIR/big.bin" "$(gcs_obj_path kubedb/demo/pg/s1/big2.bin)"
umount_snapfs "$M"
finish
