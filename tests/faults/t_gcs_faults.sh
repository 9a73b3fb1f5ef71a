#!/bin/bash
# GCS through the fault proxy (tests/lib/fault_proxy.py) in front of the GCS test server
# (tests/servers/gcs_server.py, which checks declared CRC32C/MD5 hashes as GCS does). The token endpoint is
# reached directly; every storage request, session chunks included, goes through the proxy.
# - transient faults (500, 503, 429, a reset mid request body, a reply stalled past --timeout 2, a chunk
#   the server only partly keeps) during a big cp: the object commits with the same bytes (read from the
#   server's disk, not through the mount), with the file's CRC32C and its SHA-256 as metadata, and the
#   resume logic ran (status queries after each interrupted chunk);
# - a body corrupted in flight: a small object (one multipart request) is refused by its CRC32C and sent
#   again; a chunk of a resumable session cannot be checked on its own, so the finishing request is refused,
#   close() fails with EIO, the session is cancelled and the previous object stays as it was; a store that
#   does not check the hash makes a bad object, which snapfs sees in the reply and deletes again;
# - a persistent fault (every chunk fails): EIO within a bounded time, no object, no open session;
# - reads through faulty GETs: the right bytes or EIO, never others;
# - malformed JSON listings: EIO, and the daemon lives on.
# FAULT_GCS_MIB (default 128) sets the size of the big write.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/gcs.sh"
source "$SNAPFS_SRC/tests/faults/proxy.sh"
source "$SNAPFS_SRC/tests/lib/faults.sh"

BIG_MIB=${FAULT_GCS_MIB:-128}
# The stalled chunk's reply is held 15 s: libcurl judges "no data for --timeout" on a speed averaged over
# the last seconds, so after a 4 MiB body it gives up some 5-7 s into the silence; a shorter stall could
# end first, and snapfs would then see a dropped connection instead of its timeout
OBJ=kubedb/demo/pg/faults

# gcs_resource NAME: the object resource (JSON) straight from the server; "missing" on 404
gcs_resource() {
	local enc code
	enc=$("$GCS_PY" -c 'import sys, urllib.parse as u; print(u.quote(sys.argv[1], safe=""))' "$1")
	code=$(curl -s -o "$T_DIR/resource.json" -w '%{http_code}' -H "Authorization: Bearer $(gcs_token)" \
		"$GCS_URL/storage/v1/b/kubedb/o/$enc")
	if [ "$code" = 404 ]; then echo missing; else cat "$T_DIR/resource.json"; fi
}
# field JSON EXPR: a python expression on the parsed JSON `j`
field() { "$GCS_PY" -c 'import json, sys; j = json.loads(sys.argv[1]); print('"$2"')' "$1"; }
# file_crc32c FILE: GCS's form of its CRC32C (base64, big-endian)
file_crc32c() {
	"$GCS_PY" - "$1" <<'PY'
import base64, sys
import crcmod.predefined
f, c = crcmod.predefined.mkPredefinedCrcFun("crc-32c"), 0
with open(sys.argv[1], "rb") as fh:
    for blk in iter(lambda: fh.read(1 << 20), b""):
        c = f(blk, c)
print(base64.b64encode(c.to_bytes(4, "big")).decode())
PY
}
# open_sessions: sessions the server still holds open (not finished, not cancelled)
open_sessions() {
	curl -sf "$GCS_URL/_test/sessions" | "$GCS_PY" -c 'import json, sys; print(sum(1 for s in json.load(sys.stdin) if s["state"] == "open"))'
}
# gstat NAME: a counter from the server's stats
gstat() { gcs_stat "$1"; }
# json_err CODE MESSAGE: a JSON API error document, as a proxy "status" rule body
json_err() { printf '{"error": {"code": %s, "message": "%s", "errors": [{"message": "%s", "domain": "global", "reason": "backendError"}]}}' "$1" "$2" "$2"; }

start_gcs_server
start_fault_proxy "$GCS_URL"
MNT=$T_DIR/mnt
mount_snapfs gs://kubedb "$MNT" --secret-dir "$GCS_SECRET" --endpoint "$FP_URL" --cache-dir "$T_DIR/cache" \
	--cache-size 256M --part-size 4M --uploads 4 --timeout 2 --retries 5 --meta-ttl 1
SNAP=$MNT/$OBJ
PID=$(cat "$T_DIR/snapfs-mnt.pid")
mkdir -p "$SNAP"

# ---------- transient faults during a big write ----------
head -c "${BIG_MIB}M" /dev/urandom >"$T_DIR/big.bin"
# session start: POST ?uploadType=resumable; chunks: PUT ...&upload_id= with a body; the finishing request
# of an aligned object: PUT with Content-Range bytes */TOTAL and no body
E500=$(json_err 500 "Internal Error")
E503=$(json_err 503 "Backend Error")
E429=$(json_err 429 "The rate of change requests to the object is too high.")
fp_rules '{"seed": 11, "rules": [
 {"method": "POST", "query": "uploadType=resumable", "times": 1, "action": "status", "status": 503,
  "content_type": "application/json", "body": '"$("$GCS_PY" -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$E503")"'},
 {"method": "PUT", "query": "upload_id=", "header": "Content-Range: bytes \\*/[0-9]", "times": 1, "action": "status",
  "status": 503, "content_type": "application/json", "body": '"$("$GCS_PY" -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$E503")"'},
 {"method": "PUT", "query": "upload_id=", "min_body": 1, "skip": 1, "times": 2, "action": "status", "status": 500,
  "content_type": "application/json", "body": '"$("$GCS_PY" -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$E500")"'},
 {"method": "PUT", "query": "upload_id=", "min_body": 1, "skip": 4, "times": 2, "action": "status", "status": 503,
  "content_type": "application/json", "body": '"$("$GCS_PY" -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$E503")"'},
 {"method": "PUT", "query": "upload_id=", "min_body": 1, "skip": 7, "times": 1, "action": "status", "status": 429,
  "content_type": "application/json", "body": '"$("$GCS_PY" -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$E429")"'},
 {"method": "PUT", "query": "upload_id=", "min_body": 1, "skip": 9, "times": 2, "action": "reset_request", "at": 0.5},
 {"method": "PUT", "query": "upload_id=", "min_body": 1, "skip": 13, "times": 1, "action": "stall", "seconds": 15}
]}'
# and the server keeps only part of one chunk it answers 308 for (its Range says how much)
gcs_fault '{"short_persist": 6}'
q0=$(gstat status_queries)
start=$(date +%s%N)
cp_rc=0
cp "$T_DIR/big.bin" "$SNAP/big.bin" || cp_rc=$?
ms=$(elapsed_ms "$start")
check "cp of ${BIG_MIB} MiB through transient faults succeeds (exit $cp_rc)" test "$cp_rc" -eq 0
STATS=$(fp_stats)
queries=$(($(gstat status_queries) - q0))
log "${BIG_MIB} MiB written through faults in ${ms} ms; injected: $(field "$STATS" 'j["injected"]'); status queries: $queries; partly kept chunks: $(gstat short_persists)"
check "the proxy failed the session start once (503)" test "$(field "$STATS" 'j["rules"][0]["injected"]')" -eq 1
check "the proxy failed the finishing request once (503)" test "$(field "$STATS" 'j["rules"][1]["injected"]')" -eq 1
check "the proxy injected 500s into chunks" test "$(fault_inj status 500)" -ge 2
check "the proxy injected 503s (chunks, start, finish)" test "$(fault_inj status 503)" -ge 4
check "the proxy injected a 429" test "$(fault_inj status 429)" -ge 1
check "the proxy reset connections mid request body" test "$(fault_inj reset_request)" -ge 2
check "the proxy stalled a reply past the timeout" test "$(fault_inj stall)" -ge 1
check "the server kept only part of a chunk once" test "$(gstat short_persists)" -ge 1
# every chunk snapfs saw interrupted (2 x 500, 2 x 503, 429, the resets, the stall; libcurl itself may
# replay a request reset on a reused connection before any byte of reply, which is safe: the proxy never
# forwarded it) and the failed finish are followed by a status query; the stalled chunk had arrived
# whole, so its query says so and it is not sent again
interrupted=$(grep -c "big.bin: chunk at [0-9]* interrupted" "$T_DIR/snapfs-mnt.log")
check "snapfs saw at least 7 interrupted requests ($interrupted)" test "$interrupted" -ge 7
check "and asked the session what it had after each ($queries status queries)" test "$queries" -ge "$interrupted"
fp_reset
check "no chunk was sent at a wrong offset" test "$(gstat offset_mismatches)" -eq 0
if [ "$cp_rc" -ne 0 ]; then
	check "after a failed close the object is not in the store" test "$(gcs_resource "$OBJ/big.bin")" = missing
fi
check "the committed object is the file, byte for byte (read from the server's disk)" \
	cmp "$T_DIR/big.bin" "$(gcs_obj_path "$OBJ/big.bin")"
RES=$(gcs_resource "$OBJ/big.bin")
check "the object's CRC32C is the file's" test "$(field "$RES" 'j.get("crc32c")')" = "$(file_crc32c "$T_DIR/big.bin")"
check "the object carries the file's SHA-256 as metadata snapfs-sha256" \
	test "$(field "$RES" 'j.get("metadata", {}).get("snapfs-sha256")')" = "$(sha256sum <"$T_DIR/big.bin" | cut -d' ' -f1)"
check "the server checked the declared hash" test "$(gstat hashes_checked)" -ge 1
check "no session left open" test "$(open_sessions)" -eq 0

# ---------- a body corrupted in flight ----------
# a small file is one multipart request (metadata with the CRC32C, then the bytes): refused, sent again
head -c 3M /dev/urandom >"$T_DIR/small.bin"
mm0=$(gstat hash_mismatches)
fp_rules '[{"method": "POST", "query": "uploadType=multipart", "times": 1, "action": "corrupt"}]'
check "cp of a small file with its upload corrupted in flight" cp "$T_DIR/small.bin" "$SNAP/small.bin"
check "the proxy corrupted the upload" test "$(fp_get 's["injected"].get("corrupt", 0)')" -eq 1
log "the server's answer to the corrupted multipart upload: $(fp_get 's["corrupt_replies"]')"
check "the server refused it for its CRC32C (400)" test "$(fp_get 'int(s["corrupt_replies"] == [400])')" = 1
check "the server counted one hash mismatch" test "$(($(gstat hash_mismatches) - mm0))" -eq 1
fp_reset
check "the object sent again is the file, byte for byte" cmp "$T_DIR/small.bin" "$(gcs_obj_path "$OBJ/small.bin")"
RES=$(gcs_resource "$OBJ/small.bin")
check "the small object carries its SHA-256 and CRC32C" test \
	"$(field "$RES" 'j["metadata"]["snapfs-sha256"] + " " + j["crc32c"]')" = \
	"$(sha256sum <"$T_DIR/small.bin" | cut -d' ' -f1) $(file_crc32c "$T_DIR/small.bin")"

# a chunk of a session: nothing checks it until the finishing request, whose X-Goog-Hash covers the whole
# object; the chunks before are gone from the cache, so close() fails and the old object stays
head -c 40M /dev/urandom >"$T_DIR/mid.bin"
check "a first version of mid.bin is stored" cp "$T_DIR/mid.bin" "$SNAP/mid.bin"
gen0=$(field "$(gcs_resource "$OBJ/mid.bin")" 'j["generation"]')
head -c 40M /dev/urandom >"$T_DIR/mid2.bin"
mm0=$(gstat hash_mismatches)
c0=$(gstat sessions_cancelled)
fp_rules '[{"method": "PUT", "query": "upload_id=", "min_body": 1, "skip": 1, "times": 1, "action": "corrupt"}]'
start=$(date +%s%N)
cp "$T_DIR/mid2.bin" "$SNAP/mid.bin" 2>"$T_DIR/corrupt.err" && corrupt_rc=0 || corrupt_rc=$?
ms=$(elapsed_ms "$start")
log "overwrite with a chunk corrupted in flight: exit $corrupt_rc after ${ms} ms: $(cat "$T_DIR/corrupt.err")"
check "the proxy corrupted a chunk" test "$(fp_get 's["injected"].get("corrupt", 0)')" -eq 1
check "the server took the corrupted chunk (308: no per-chunk check)" test "$(fp_get 'int(s["corrupt_replies"] == [308])')" = 1
check "the finishing request was refused for the object's CRC32C" test "$(($(gstat hash_mismatches) - mm0))" -eq 1
check "cp fails with EIO" bash -c "[ $corrupt_rc -ne 0 ] && grep -q 'Input/output error' '$T_DIR/corrupt.err'"
check "the session was cancelled" test "$(($(gstat sessions_cancelled) - c0))" -ge 1
check "no session left open" test "$(open_sessions)" -eq 0
fp_reset
check "the previous object is still there, same generation" \
	test "$(field "$(gcs_resource "$OBJ/mid.bin")" 'j["generation"]')" = "$gen0"
check "with its own bytes" cmp "$T_DIR/mid.bin" "$(gcs_obj_path "$OBJ/mid.bin")"
check "the log says the file was NOT stored" eventually grep -q "NOT stored" "$T_DIR/snapfs-mnt.log"

# a store that does not check hashes makes the object with the corrupted bytes: snapfs sees the CRC32C in
# the reply differ from what it sent, deletes that generation and fails close()
gcs_fault '{"ignore_hashes": true}'
fp_rules '[{"method": "PUT", "query": "upload_id=", "min_body": 1, "skip": 2, "times": 1, "action": "corrupt"}]'
cp "$T_DIR/mid2.bin" "$SNAP/unchecked.bin" 2>"$T_DIR/unchecked.err" && unchecked_rc=0 || unchecked_rc=$?
check "the proxy corrupted a chunk" test "$(fp_get 's["injected"].get("corrupt", 0)')" -eq 1
check "cp to a store that does not check hashes fails with EIO" \
	bash -c "[ $unchecked_rc -ne 0 ] && grep -q 'Input/output error' '$T_DIR/unchecked.err'"
check "the object with the wrong bytes was deleted again" test "$(gcs_resource "$OBJ/unchecked.bin")" = missing
check "the log names the CRC32C the server made" grep -q "unchecked.bin: the server made an object with CRC32C" \
	"$T_DIR/snapfs-mnt.log"
gcs_fault '{"ignore_hashes": false}'
fp_reset

# ---------- persistent fault: every chunk fails ----------
fp_rules '[{"method": "PUT", "query": "upload_id=", "min_body": 1, "action": "status", "status": 503,
  "content_type": "application/json", "body": '"$("$GCS_PY" -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$E503")"'}]'
c0=$(gstat sessions_cancelled)
fault_doomed chunk 6   # 6 tries of the first one at least
check "the failed object does not exist" test "$(gcs_resource "$OBJ/doomed.bin")" = missing
check "its session was cancelled (DELETE, 499)" eventually grep -qE '^DELETE [^ ]*name=kubedb%2Fdemo%2Fpg%2Ffaults%2Fdoomed.bin&upload_id=[^ ]+ 499$' "$FP_JOURNAL"
check "no session left open" test "$(open_sessions)" -eq 0
check "the failed file is not listed" bash -c "! ls '$SNAP' | grep -qx doomed.bin"
fault_survives

# ---------- reads through faulty GETs: the right bytes or an error, never others ----------
fault_read_rules '"method": "GET", "query": "alt=media"' '"action": "status", "status": 503,
  "content_type": "application/json", "body": '"$("$GCS_PY" -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$E503")" 1 3 5 7
MNT2=$T_DIR/mnt2
mount_snapfs gs://kubedb "$MNT2" --secret-dir "$GCS_SECRET" --endpoint "$FP_URL" --cache-dir "$T_DIR/cache2" \
	--timeout 2 --retries 5
READ_MIB=$((BIG_MIB < 64 ? BIG_MIB : 64))
fault_read "$MNT2/$OBJ/big.bin" "$T_DIR/big.bin" $((READ_MIB << 20))
check "the proxy injected faults into the reads" test "$(fp_get 's["injected_total"]')" -ge 5
fault_read_done

# ---------- malformed listings: EIO, never a crash ----------
echo one >"$T_DIR/f1"
for d in mal1 mal2 mal3 mal4; do gcs_put "kubedb/demo/$d/snap/f1" "$T_DIR/f1"; done
fault_bad_listings '"method": "GET", "query": "prefix="' JSON
fault_bad_listing "$MNT/kubedb/demo/mal3/snap" "a listing with a malformed item" \
	'[{"method": "GET", "query": "prefix=", "action": "mangle", "how": "body",
  "body": "{\"kind\": \"storage#objects\", \"items\": [{\"name\": \"kubedb/demo/mal3/snap/x\", \"size\": \"12x\"}]}"}]'
fault_bad_listing "$MNT/kubedb/demo/mal4" "a 500 with a garbage error document" \
	'[{"method": "GET", "query": "prefix=", "action": "status", "status": 500, "body": "\u0000\u00ff{\"error\": "}]'
fault_listing_back 4

umount_snapfs "$MNT"
rm -f "$T_DIR/big.bin" "$T_DIR/mid.bin" "$T_DIR/mid2.bin" "$T_DIR/small.bin"
finish
