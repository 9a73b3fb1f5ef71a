# 1 GiB through a gs:// mount while the server breaks things: a chunk cut off mid-transfer (the backend
# must ask what arrived and resume from there), a chunk only partly kept (308 with a short Range), a
# chunk half kept and answered 503,
# access tokens that live 6 s (refreshed ahead of expiry mid-upload) and the token in use revoked
# once (a 401: refreshed and retried). The stored object is compared with the source byte for byte.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/gcs.sh"

start_gcs_server --token-ttl 6
M=$T_DIR/mnt
mount_snapfs gs://kubedb "$M" --secret-dir "$GCS_SECRET" --endpoint "$GCS_URL" --cache-dir "$T_DIR/cache" \
	--part-size 8M
SNAP=$M/kubedb/demo/pg/big
mkdir -p "$SNAP"
# the write check at mount finished a session of its own
sessions0=$(gcs_stat sessions_finalized)
head -c $((1024 * 1024 * 1024)) /dev/urandom >"$T_DIR/src.bin"

gcs_fault '{"drop_chunk": 3, "short_persist": 7, "fail_chunk": 11}'
# revoke the token in use once the upload is well under way
(
	for _ in $(seq 600); do
		[ "$(gcs_stat chunks)" -ge 40 ] && break
		sleep 0.1
	done
	gcs_fault '{"revoke_next": true}'
	log "the token of the request after chunk $(gcs_stat chunks) is revoked"
) &
REVOKER=$!
t0=$(date +%s.%N)
check "write 1 GiB (cp, closed only when stored)" cp "$T_DIR/src.bin" "$SNAP/one-gib.bin"
t1=$(date +%s.%N)
kill "$REVOKER" 2>/dev/null || true
wait "$REVOKER" || true
log "1 GiB written in $(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }") s"
check "the stored object is the source, byte for byte" cmp "$T_DIR/src.bin" "$(gcs_obj_path kubedb/demo/pg/big/one-gib.bin)"
check "a chunk was cut off mid-transfer" [ "$(gcs_stat chunk_drops)" -eq 1 ]
check "a chunk was kept only in part" [ "$(gcs_stat short_persists)" -eq 1 ]
check "a chunk was half kept and answered 503" [ "$(gcs_stat chunk_fails)" -eq 1 ]
check "the backend resumed after the 503 from what the server had" \
	grep -q "interrupted (a retryable status); asking the server what it has" "$T_DIR/snapfs-mnt.log"
check "the backend asked the session what it had" [ "$(gcs_stat status_queries)" -ge 1 ]
check "tokens were refreshed during the upload" [ "$(gcs_stat tokens_issued)" -ge 3 ]
check "a revoked token was answered 401 and replaced" [ "$(gcs_stat unauthorized)" -ge 1 ]
check "no misaligned chunk" [ "$(gcs_stat misaligned_chunks)" -eq 0 ]
# libcurl replays a request whose reused connection died before any reply: that replay of the cut
# chunk may arrive at the old offset (and be refused); nothing else may
check "no chunk at a wrong offset but a replay of the cut one" \
	[ "$(gcs_stat offset_mismatches)" -le "$(gcs_stat chunk_drops)" ]
check "one session, finished" [ $(($(gcs_stat sessions_finalized) - sessions0)) -eq 1 ]
check "no session open" [ "$(gcs_stat sessions_open)" -eq 0 ]
check "reads back through the mount" cmp "$T_DIR/src.bin" "$SNAP/one-gib.bin"
umount_snapfs "$M"
finish
