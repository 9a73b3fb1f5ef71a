#!/bin/bash
# S3 through the fault proxy (tests/lib/fault_proxy.py) in front of Ceph RGW:
# - transient faults (500, 503 SlowDown, 429, a reset mid-body, a reply stalled past --timeout 2) during a
#   big cp: the object commits with the same bytes (fetched from RGW directly, not through the proxy);
#   reads through faulty GETs (reset, truncated, 500) return the right bytes or an error, never others;
# - a part corrupted in flight must be refused by the store's checksum and sent again;
# - a persistent fault (every UploadPart fails): EIO within a bounded time, no object, no upload left,
#   the mount still works; ListMultipartUploads shows no upload left open after any of it;
# - malformed listings (garbage, truncated XML): EIO, and the daemon lives on.
# FAULT_BIG_MIB (default 512: RGW's memstore keeps about twice the bytes in RAM) sets the size of the big
# write.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/rgw.sh"
source "$SNAPFS_SRC/tests/faults/proxy.sh"
source "$SNAPFS_SRC/tests/lib/faults.sh"
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN

BIG_MIB=${FAULT_BIG_MIB:-512}

# s3head BUCKET/KEY: the HTTP status of a HEAD to RGW (directly, not through the proxy)
s3head() {
	curl -s -o /dev/null -w '%{http_code}' -I --aws-sigv4 aws:amz:us-east-1:s3 \
		--user "$S3_KEY_ID:$S3_KEY" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$S3_ENDPOINT/$1"
}

start_rgw_s3 mem=$((BIG_MIB * 2 + 256))
start_fault_proxy "$S3_ENDPOINT" --verify-checksums

MNT=$T_DIR/mnt
mount_snapfs s3://kubedb "$MNT" --secret-dir "$S3_SECRET" --endpoint "$FP_URL" --cache-dir "$T_DIR/cache" \
	--cache-size 256M --part-size 8M --uploads 4 --timeout 2 --retries 5 --meta-ttl 1
SNAP=$MNT/kubedb/demo/pg/faults
PID=$(cat "$T_DIR/snapfs-mnt.pid")

# ---------- transient faults during a big write ----------
head -c "${BIG_MIB}M" /dev/urandom >"$T_DIR/big.bin"
# UploadPart is PUT ?partNumber=N&uploadId=...; initiate is POST ?uploads; complete is POST ?uploadId=
fp_rules '{"seed": 7, "rules": [
 {"method": "POST", "query": "uploads", "times": 1, "action": "status", "status": 500,
  "s3_code": "InternalError", "message": "We encountered an internal error. Please try again."},
 {"method": "PUT", "query": "partNumber=", "skip": 2, "times": 3, "action": "status", "status": 500,
  "s3_code": "InternalError", "message": "We encountered an internal error. Please try again."},
 {"method": "PUT", "query": "partNumber=", "skip": 6, "times": 3, "action": "status", "status": 503,
  "s3_code": "SlowDown"},
 {"method": "PUT", "query": "partNumber=", "skip": 10, "times": 1, "action": "status", "status": 429,
  "s3_code": "SlowDown"},
 {"method": "PUT", "query": "partNumber=", "skip": 14, "times": 2, "action": "reset_request", "at": 0.5},
 {"method": "PUT", "query": "partNumber=", "skip": 20, "times": 1, "action": "stall", "seconds": 8},
 {"method": "POST", "query": "uploadId=", "times": 1, "action": "status", "status": 503, "s3_code": "SlowDown"}
]}'
start=$(date +%s%N)
cp_rc=0
cp "$T_DIR/big.bin" "$SNAP/big.bin" || cp_rc=$?
ms=$(elapsed_ms "$start")
check "cp of ${BIG_MIB} MiB through transient faults succeeds (exit $cp_rc)" test "$cp_rc" -eq 0
log "${BIG_MIB} MiB written through faults in ${ms} ms"
STATS=$(fp_stats)
log "faults injected: $(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["injected"])' "$STATS")"
check "the proxy injected 500s (initiate and parts)" test "$(fault_inj status 500)" -ge 4
check "the proxy injected 503 SlowDown (parts and complete)" test "$(fault_inj status 503)" -ge 4
check "the proxy injected a 429" test "$(fault_inj status 429)" -ge 1
check "the proxy reset connections mid request body" test "$(fault_inj reset_request)" -ge 2
check "the proxy stalled a reply past the timeout" test "$(fault_inj stall)" -ge 1
fp_reset
rm -f "$T_DIR/direct.bin"
# what close() said and what the store holds must agree: a failed close may not leave the new object
# published (the log would say "NOT stored; the object was left as it was before")
if [ "$cp_rc" -ne 0 ]; then
	check "after a failed close the object is not in the store" \
		test "$(s3head kubedb/kubedb/demo/pg/faults/big.bin)" = 404
fi
check "fetch the object from RGW directly" s3get kubedb/kubedb/demo/pg/faults/big.bin "$T_DIR/direct.bin"
check "the committed object is the file, byte for byte" cmp "$T_DIR/big.bin" "$T_DIR/direct.bin"
rm -f "$T_DIR/direct.bin"
check "no multipart upload is left after the faulty write" no_open_uploads kubedb

# ---------- reads through faulty GETs: right bytes or an error, never wrong bytes ----------
sync
echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
fault_read_rules '"method": "GET", "path": "big.bin"' '"action": "status", "status": 500' 1 4 8 12
# a fresh mount, so nothing comes from the kernel's page cache or the daemon's read-ahead
MNT2=$T_DIR/mnt2
mount_snapfs s3://kubedb "$MNT2" --secret-dir "$S3_SECRET" --endpoint "$FP_URL" --cache-dir "$T_DIR/cache2" \
	--timeout 2 --retries 5
READ_SIZE=$((BIG_MIB < 256 ? BIG_MIB : 256))
fault_read "$MNT2/kubedb/demo/pg/faults/big.bin" "$T_DIR/big.bin" $((READ_SIZE << 20))
check "the proxy injected faults into the reads" test "$(fp_get 's["injected_total"]')" -ge 5
check "the proxy reset connections mid reply body" test "$(fp_get 's["injected"].get("reset_reply", 0)')" -ge 1
fault_read_done

# ---------- a body byte corrupted in flight must be refused by the store and sent again ----------
head -c 40M /dev/urandom >"$T_DIR/mid.bin"
fp_rules '[{"method": "PUT", "query": "partNumber=", "skip": 1, "times": 1, "action": "corrupt"}]'
check "cp with one part corrupted in flight" cp "$T_DIR/mid.bin" "$SNAP/mid.bin"
check "the proxy corrupted a part" test "$(fp_get 's["injected"].get("corrupt", 0)')" -eq 1
# the part is signed by its SHA-256 (x-amz-content-sha256), so RGW itself, not the proxy, refuses the
# damaged body (400 XAmzContentSHA256Mismatch) and snapfs sends it again
log "RGW's answer to the corrupted part: $(fp_get 's["corrupt_replies"]')"
check "RGW refused the corrupted part for its signed SHA-256 (400)" \
	test "$(fp_get 'int(s["corrupt_replies"] == [400])')" = 1
check "no checksum was left for the proxy to check (the store did it)" test "$(fp_get 's["checksum_refused"]')" -eq 0
check "snapfs logged the damaged part and sent it again" grep -q 'damaged in transit' "$T_DIR/snapfs-mnt.log"
fp_reset
check "fetch the object from RGW directly" s3get kubedb/kubedb/demo/pg/faults/mid.bin "$T_DIR/direct.bin"
check "the object committed after the corruption is the file, byte for byte" cmp "$T_DIR/mid.bin" "$T_DIR/direct.bin"
rm -f "$T_DIR/direct.bin"

# ---------- persistent fault: every UploadPart fails ----------
fp_rules '[{"method": "PUT", "query": "partNumber=", "action": "status", "status": 500,
  "s3_code": "InternalError", "message": "We encountered an internal error. Please try again."}]'
fault_doomed part 1
check "the failed object does not exist in the store" \
	test "$(s3head kubedb/kubedb/demo/pg/faults/doomed.bin)" = 404
check "snapfs aborted the failed upload (DELETE ?uploadId=)" \
	eventually grep -qE '^DELETE /kubedb/kubedb/demo/pg/faults/doomed.bin\?uploadId=[^ ]+ ' "$FP_JOURNAL"
check "ListMultipartUploads shows no upload left open" eventually no_open_uploads kubedb
check "the log says the file was NOT stored" eventually grep -q "NOT stored" "$T_DIR/snapfs-mnt.log"
check "the failed file is not listed" bash -c "! ls '$SNAP' | grep -qx doomed.bin"
fault_survives

# ---------- malformed replies: EIO, never a crash ----------
mkdir -p "$T_DIR/tree"
for i in 1 2 3; do echo "$i" >"$T_DIR/tree/f$i"; done
s3put "$T_DIR/tree/f1" kubedb/kubedb/demo/mal1/snap/f1
s3put "$T_DIR/tree/f2" kubedb/kubedb/demo/mal2/snap/f2
s3put "$T_DIR/tree/f3" kubedb/kubedb/demo/mal3/snap/f3
fault_bad_listings '"method": "GET", "query": "list-type=2"' XML
fault_bad_listing "$MNT/kubedb/demo/mal3" "a listing cut inside an element" \
	'[{"method": "GET", "query": "list-type=2", "action": "mangle", "how": "body",
  "body": "<?xml version=\"1.0\"?><ListBucketResult><IsTruncated>true</IsTruncated><Contents><Key>"}]'
fault_bad_listing "$MNT/kubedb/demo/mal3/snap" "a 500 with a garbage error document" \
	'[{"method": "GET", "query": "list-type=2", "action": "status", "status": 500, "body": "\u0000\u00ff<Error><Code>"}]'
fault_listing_back 4

umount_snapfs "$MNT"
rm -f "$T_DIR/big.bin" "$T_DIR/mid.bin"
finish
