# Checksums and the SHA-256 metadata on every way a gs:// mount writes an object. The test server checks
# a declared CRC32C as GCS does (tests/gcs/gcs_probe.py holds it to that), so an object that exists was
# accepted under its CRC32C; here each one must also carry the file's CRC32C and, where snapfs knows it,
# its SHA-256 as metadata "snapfs-sha256":
# - a small file: one multipart request (JSON metadata with crc32c and the SHA-256, then the bytes);
# - a file bigger than 8 MiB that is still one part (--part-size 16M): a session that takes the SHA-256
#   as metadata at its start and the CRC32C on its one request; corrupted once on the way through the fault
#   proxy, it is refused and sent again in a new session, the refused one cancelled;
# - a chunked file with an unaligned end: X-Goog-Hash on the finishing request, then an objects.patch of
#   the SHA-256 onto exactly that generation;
# - an append (compose): the old SHA-256 must not be carried over to the longer object;
# - an empty file.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/gcs.sh"
source "$SNAPFS_SRC/tests/faults/proxy.sh"

start_gcs_server
start_fault_proxy "$GCS_URL"
M=$T_DIR/mnt
mount_snapfs gs://kubedb "$M" --secret-dir "$GCS_SECRET" --endpoint "$FP_URL" --cache-dir "$T_DIR/cache" \
	--part-size 16M --uploads 2 --retries 3 --timeout 10
D=kubedb/demo/pg/snap
S=$M/$D
mkdir -p "$S"

resource() {
	local enc
	enc=$("$GCS_PY" -c 'import sys, urllib.parse as u; print(u.quote(sys.argv[1], safe=""))' "$1")
	curl -sf -H "Authorization: Bearer $(gcs_token)" "$GCS_URL/storage/v1/b/kubedb/o/$enc" || echo '{}'
}
# sums FILE: "CRC32C SHA256" of a local file, as the object must show them
sums() {
	"$GCS_PY" - "$1" <<'PY'
import base64, hashlib, sys
import crcmod.predefined
f, c, h = crcmod.predefined.mkPredefinedCrcFun("crc-32c"), 0, hashlib.sha256()
with open(sys.argv[1], "rb") as fh:
    for blk in iter(lambda: fh.read(1 << 20), b""):
        c, _ = f(blk, c), h.update(blk)
print(base64.b64encode(c.to_bytes(4, "big")).decode(), h.hexdigest())
PY
}
# shown NAME: "CRC32C SHA256" as the object resource has them ("-" for a missing SHA-256)
shown() { resource "$1" | "$GCS_PY" -c 'import json, sys; j = json.load(sys.stdin); print(j.get("crc32c"), j.get("metadata", {}).get("snapfs-sha256", "-"))'; }
field() { resource "$1" | "$GCS_PY" -c 'import json, sys; j = json.load(sys.stdin); print('"$2"')'; }

# a small file: one multipart request
head -c 300000 /dev/urandom >"$T_DIR/small.bin"
mp0=$(gcs_stat multipart_uploads)
cp "$T_DIR/small.bin" "$S/small.bin"
check "a small file is one multipart upload" [ $(($(gcs_stat multipart_uploads) - mp0)) -eq 1 ]
check "it carries the file's CRC32C and SHA-256" [ "$(shown "$D/small.bin")" = "$(sums "$T_DIR/small.bin")" ]
check "and its bytes" cmp "$T_DIR/small.bin" "$(gcs_obj_path "$D/small.bin")"

# an empty file
: >"$S/empty"
sleep 1   # an empty create is published when the last descriptor goes, a moment after close
for _ in $(seq 60); do [ -e "$(gcs_obj_path "$D/empty")" ] && break; sleep 0.5; done
check "an empty file has the CRC32C and SHA-256 of nothing" [ "$(shown "$D/empty")" = "AAAAAA== $(sha256sum </dev/null | cut -d' ' -f1)" ]

# 12 MiB in one part: a session with the SHA-256 from the start; its one request corrupted once
head -c 12M /dev/urandom >"$T_DIR/one.bin"
mm0=$(gcs_stat hash_mismatches)
c0=$(gcs_stat sessions_cancelled)
so0=$(gcs_stat sessions_opened)
fp_rules '[{"method": "PUT", "query": "upload_id=", "min_body": 1, "times": 1, "action": "corrupt"}]'
check "cp of 12 MiB (one part, a session) with its bytes corrupted once on the way" cp "$T_DIR/one.bin" "$S/one.bin"
check "the proxy corrupted it" [ "$(fp_get 's["injected"].get("corrupt", 0)')" -eq 1 ]
check "the server refused it for its CRC32C" [ $(($(gcs_stat hash_mismatches) - mm0)) -eq 1 ]
check "it was sent again in a new session" [ $(($(gcs_stat sessions_opened) - so0)) -eq 2 ]
check "the refused session was cancelled" [ $(($(gcs_stat sessions_cancelled) - c0)) -eq 1 ]
fp_reset
check "the object has the file's CRC32C and SHA-256" [ "$(shown "$D/one.bin")" = "$(sums "$T_DIR/one.bin")" ]
check "and its bytes" cmp "$T_DIR/one.bin" "$(gcs_obj_path "$D/one.bin")"
check "its SHA-256 came with the session, not a patch (metageneration 1)" [ "$(field "$D/one.bin" 'j["metageneration"]')" = 1 ]

# chunked, with an unaligned end: the finishing request carries the CRC32C, then the SHA-256 is patched on
head -c $((40 * 1024 * 1024 + 12345)) /dev/urandom >"$T_DIR/big.bin"
p0=$(gcs_stat patches)
cp "$T_DIR/big.bin" "$S/big.bin"
check "the chunked object has the file's CRC32C and SHA-256" [ "$(shown "$D/big.bin")" = "$(sums "$T_DIR/big.bin")" ]
check "and its bytes" cmp "$T_DIR/big.bin" "$(gcs_obj_path "$D/big.bin")"
check "the SHA-256 came by one objects.patch (metageneration 2)" \
	[ $(($(gcs_stat patches) - p0)) -eq 1 ] && [ "$(field "$D/big.bin" 'j["metageneration"]')" = 2 ]
check "every hash declared so far was checked" [ "$(gcs_stat hashes_checked)" -ge 5 ]
check "no session left open" [ "$(gcs_stat sessions_open)" -eq 0 ]

# an append composes the old object and the new bytes; the old SHA-256 must not stay on the longer object
head -c 300000 /dev/urandom >"$T_DIR/tail.bin"
python3 - "$S/big.bin" "$T_DIR/tail.bin" <<'PY'
import sys
with open(sys.argv[1], "ab") as f, open(sys.argv[2], "rb") as t:
    f.write(t.read())
PY
cat "$T_DIR/big.bin" "$T_DIR/tail.bin" >"$T_DIR/appended.bin"
check "the append composed" [ "$(gcs_stat composes)" -ge 1 ]
check "the appended object is old + new bytes" cmp "$T_DIR/appended.bin" "$(gcs_obj_path "$D/big.bin")"
read -r crc sha <<<"$(shown "$D/big.bin")"
read -r want_crc want_sha <<<"$(sums "$T_DIR/appended.bin")"
check "its CRC32C is the whole file's" [ "$crc" = "$want_crc" ]
check "its SHA-256 metadata is absent or the whole file's, never the old one ($sha)" \
	bash -c "[ '$sha' = - ] || [ '$sha' = '$want_sha' ]"
check "the temporary of the append is gone" [ "$(ls "$GCS_DATA/kubedb" | grep -c 'snapfs%2Ftmp' || true)" -eq 0 ]
check "a read through the mount gives the appended file" cmp "$T_DIR/appended.bin" "$S/big.bin"
umount_snapfs "$M"
rm -f "$T_DIR"/*.bin
finish
