# Not a ctest test: the write time of SIZE_MIB (default 512) through a gs:// mount against a direct
# upload of the same bytes to the same test server with curl (one resumable PUT, and one simple upload).
# Run: SNAPFS_SRC=. SNAPFS_BUILD=build bash tests/gcs/bench_write.sh [SIZE_MIB]
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/gcs.sh"

MIB=${1:-512}
start_gcs_server
head -c $((MIB * 1024 * 1024)) /dev/urandom >"$T_DIR/src.bin"
now() { date +%s.%N; }
rate() { awk "BEGIN { printf \"%.2f s, %.0f MB/s\", $2 - $1, $MIB * 1.048576 / ($2 - $1) }"; }

TOKEN=$(gcs_token)
AUTH="Authorization: Bearer $TOKEN"

# direct, resumable: open a session, then one PUT of every byte
t0=$(now)
LOC=$(curl -sf -D - -o /dev/null -X POST -H "$AUTH" \
	"$GCS_URL/upload/storage/v1/b/kubedb/o?uploadType=resumable&name=direct-resumable" |
	tr -d '\r' | awk 'tolower($1) == "location:" { print $2 }')
curl -sf -o /dev/null -H "$AUTH" -H "Expect:" -H "Content-Range: bytes 0-$((MIB * 1048576 - 1))/$((MIB * 1048576))" \
	-T "$T_DIR/src.bin" "$LOC"
t1=$(now)
log "direct resumable upload (curl, one PUT): $(rate "$t0" "$t1")"
check "direct resumable upload stored" cmp -s "$T_DIR/src.bin" "$(gcs_obj_path direct-resumable)"

# direct, simple upload
t0=$(now)
curl -sf -o /dev/null -X POST -H "$AUTH" -H "Expect:" -H "Content-Type: application/octet-stream" \
	-T "$T_DIR/src.bin" "$GCS_URL/upload/storage/v1/b/kubedb/o?uploadType=media&name=direct-simple"
t1=$(now)
log "direct simple upload (curl): $(rate "$t0" "$t1")"
check "direct simple upload stored" cmp -s "$T_DIR/src.bin" "$(gcs_obj_path direct-simple)"

# through the mount: dd with 1 MiB writes; dd returns after close, which returns once the object exists
M=$T_DIR/mnt
mount_snapfs gs://kubedb "$M" --secret-dir "$GCS_SECRET" --endpoint "$GCS_URL" --cache-dir "$T_DIR/cache"
mkdir -p "$M/kubedb/demo/pg/bench"
t0=$(now)
dd if="$T_DIR/src.bin" of="$M/kubedb/demo/pg/bench/mount.bin" bs=1M status=none
t1=$(now)
log "through the mount (dd bs=1M, until close returned): $(rate "$t0" "$t1")"
check "mount upload stored" cmp -s "$T_DIR/src.bin" "$(gcs_obj_path kubedb/demo/pg/bench/mount.bin)"
umount_snapfs "$M"
finish
