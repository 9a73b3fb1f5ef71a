#!/bin/bash
# Swift (a one-node cluster from Debian's packages) through the fault proxy (tests/lib/fault_proxy.py):
# - transient faults (500, 503, a reset mid request body, a reset reply, a reply stalled past
#   --timeout 2, a 503 on the manifest) during a big write in 8 MiB segments: the SLO commits with the
#   same bytes (read from Swift directly with curl) and only its own segments are in the segment
#   container; reads through faulty GETs (500, reset, truncated, stalled) return the right bytes;
# - a segment corrupted in flight must be refused by Swift (its ETag is the MD5 of the body: 422) and
#   sent again;
# - the whole-file SHA-256 snapfs computed is the object's X-Object-Meta-Snapfs-Sha256 (a small
#   object, an SLO, and after a rename);
# - a persistent fault (every segment PUT fails): EIO within a bounded time, no object, no segment left,
#   and the mount still works;
# - malformed container listings (garbage, truncated JSON, JSON cut inside an entry): EIO, and the
#   daemon lives on.
# Every request goes through the proxy: ST_AUTH names the proxy, and since TempAuth answers with the
# Swift proxy server's own storage URL, --endpoint overrides it with the same account path on the proxy
# (what --endpoint does for Swift: it wins over the storage URL that authentication hands out).
# FAULT_SWIFT_MIB (default 128) sets the size of the big write. With SWIFT_SERVER=rgw the same runs
# against Ceph RGW's Swift API, where snapfs makes DLOs (RGW never gives an SLO's manifest back): the
# manifest fault hits the DLO manifest PUT, and an object's own segments are those under its
# X-Object-Manifest prefix.
# snapfs-servers: swift rgw
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/swift.sh"
source "$SNAPFS_SRC/tests/faults/proxy.sh"
source "$SNAPFS_SRC/tests/lib/faults.sh"

BIG_MIB=${FAULT_SWIFT_MIB:-128}

start_swift mem=$((BIG_MIB * 3 + 256))
swift_mkcontainer kubedb
swift_token
start_fault_proxy "$SWIFT_URL"
ACCOUNT=${SWIFT_STORAGE_URL#"$SWIFT_URL"}     # /v1/AUTH_test (Swift), /swift/v1 (RGW)
SEGS=$ACCOUNT/kubedb_segments/               # the segment PUTs' paths start so
AUTH_PATH=${SWIFT_AUTH#"$SWIFT_URL"}          # /auth/v1.0 (Swift), /auth/1.0 (RGW)
[ "$ACCOUNT" = "$SWIFT_ACCOUNT" ] || die "unexpected storage URL $SWIFT_STORAGE_URL"
# the big file's manifest PUT: an SLO's carries ?multipart-manifest=put; a DLO's is an empty PUT
if [ "$SWIFT_LARGE" = slo ]; then
	MANIFEST_RULE='"method": "PUT", "path": "^'"$ACCOUNT"'/kubedb/", "query": "multipart-manifest=put"'
else
	MANIFEST_RULE='"method": "PUT", "path": "^'"$ACCOUNT"'/kubedb/kubedb/demo/pg/faults/big.bin$"'
fi
FP_SECRET=$T_DIR/fp-secret
mkdir -p "$FP_SECRET"
printf '%s' "$FP_URL$AUTH_PATH" >"$FP_SECRET/ST_AUTH"
cp "$SWIFT_SECRET/ST_USER" "$SWIFT_SECRET/ST_KEY" "$FP_SECRET/"
chmod 600 "$FP_SECRET"/*
OPTS=(--secret-dir "$FP_SECRET" --endpoint "$FP_URL$ACCOUNT" --timeout 2 --retries 5)

MNT=$T_DIR/mnt
mount_snapfs swift://kubedb "$MNT" "${OPTS[@]}" --cache-dir "$T_DIR/cache" --cache-size 256M \
	--part-size 8M --uploads 4 --meta-ttl 1
SNAP=$MNT/kubedb/demo/pg/faults
KEY=kubedb/demo/pg/faults
PID=$(cat "$T_DIR/snapfs-mnt.pid")
check "authentication went through the proxy" grep -qE "^GET $AUTH_PATH 20[04]$" "$FP_JOURNAL"

# swift_status PATH: the HTTP status of a HEAD straight to Swift
swift_status() { swift_curl -o /dev/null -w '%{http_code}' -I "$1"; }
# stored_sha256 KEY: the object's X-Object-Meta-Snapfs-Sha256, straight from Swift
stored_sha256() {
	swift_curl -I "/kubedb/$1" | tr -d '\r' | sed -n 's/^[Xx]-[Oo]bject-[Mm]eta-[Ss]napfs-[Ss]ha256: //p'
}
# own_segments KEY: "ok" when the segment container holds exactly the segments KEY's manifest lists (an
# SLO's list; a DLO's prefix)
own_segments() {
	local listed stored mprefix
	if [ "$SWIFT_LARGE" = slo ]; then
		listed=$(swift_curl "/kubedb/$1?multipart-manifest=get" | "$SWIFT_PY" -c '
import json, sys
for e in json.load(sys.stdin):
    print(e["name"].split("/", 2)[2])' | sort) || return 1
	else
		mprefix=$(swift_curl -I "/kubedb/$1" | tr -d '\r' | sed -n 's/^[Xx]-[Oo]bject-[Mm]anifest: kubedb_segments\///p')
		[ -n "$mprefix" ] || return 1
		listed=$(swift_curl "/kubedb_segments?format=json&prefix=$mprefix&limit=10000" | "$SWIFT_PY" -c '
import json, sys
for e in json.load(sys.stdin):
    print(e["name"])' | sort) || return 1
	fi
	stored=$(swift_curl "/kubedb_segments?format=json&prefix=$1/&limit=10000" | "$SWIFT_PY" -c '
import json, sys
for e in json.load(sys.stdin):
    print(e["name"])' | sort) || return 1
	[ -n "$listed" ] && [ "$listed" = "$stored" ] && echo ok || {
		echo "listed: $listed" >&2
		echo "stored: $stored" >&2
	}
}
is_large() { swift_curl -I "/kubedb/$1" >"$T_DIR/is_large.hdr" && is_large_object "$T_DIR/is_large.hdr"; }
is_plain() {
	[ "$(swift_status "/kubedb/$1")" = 200 ] && swift_curl -I "/kubedb/$1" >"$T_DIR/is_plain.hdr" &&
		! grep -qiE '^(X-Static-Large-Object: True|X-Object-Manifest:)' "$T_DIR/is_plain.hdr"
}
# fetch KEY FILE: the object straight from Swift (an SLO reads as its segments in order)
fetch() { [ "$(swift_curl -o "$2" -w '%{http_code}' "/kubedb/$1")" = 200 ]; }

# ---------- transient faults during a big write ----------
head -c "${BIG_MIB}M" /dev/urandom >"$T_DIR/big.bin"
fp_rules '{"seed": 11, "rules": [
 {"method": "PUT", "path": "^'"$SEGS"'", "skip": 1, "times": 3, "action": "status", "status": 500,
  "body": "<html><h1>Internal Error</h1></html>"},
 {"method": "PUT", "path": "^'"$SEGS"'", "skip": 3, "times": 3, "action": "status", "status": 503,
  "body": "<html><h1>Service Unavailable</h1></html>"},
 {"method": "PUT", "path": "^'"$SEGS"'", "skip": 5, "times": 2, "action": "reset_request", "at": 0.5},
 {"method": "PUT", "path": "^'"$SEGS"'", "skip": 7, "times": 1, "action": "reset_reply", "at": 0.5},
 {"method": "PUT", "path": "^'"$SEGS"'", "skip": 9, "times": 1, "action": "stall", "seconds": 8},
 {'"$MANIFEST_RULE"', "times": 1, "action": "status", "status": 503}
]}'
start=$(date +%s%N)
dd_rc=0
dd if="$T_DIR/big.bin" of="$SNAP/big.bin" bs=1M status=none || dd_rc=$?
ms=$(elapsed_ms "$start")
check "dd of ${BIG_MIB} MiB through transient faults succeeds (exit $dd_rc)" test "$dd_rc" -eq 0
STATS=$(fp_stats)
log "${BIG_MIB} MiB written through faults in ${ms} ms; injected: $(fp_get 's["injected"]')"
check "the proxy injected 500s" test "$(fault_inj status 500)" -ge 3
check "the proxy injected 503s (segments and the manifest)" test "$(fault_inj status 503)" -ge 4
check "the proxy reset connections mid request body" test "$(fault_inj reset_request)" -ge 2
check "the proxy reset a reply" test "$(fault_inj reset_reply)" -ge 1
check "the proxy stalled a reply past the timeout" test "$(fault_inj stall)" -ge 1
fp_reset
rm -f "$T_DIR/direct.bin"
# what close() said and what the store holds must agree
if [ "$dd_rc" -ne 0 ]; then
	check "after a failed close the object is not in the store" test "$(swift_status "/kubedb/$KEY/big.bin")" = 404
fi
check "read the object from Swift directly" fetch "$KEY/big.bin" "$T_DIR/direct.bin"
check "the committed object is the file, byte for byte" cmp "$T_DIR/big.bin" "$T_DIR/direct.bin"
rm -f "$T_DIR/direct.bin"
check "it is a large object ($SWIFT_LARGE)" is_large "$KEY/big.bin"
check "the segment container holds the object's own segments and no others" \
	test "$(own_segments "$KEY/big.bin")" = ok
check "no body was taken for damaged by the transient faults" \
	bash -c "! grep -q 'damaged on the way' '$T_DIR/snapfs-mnt.log'"
check "the stored SHA-256 of the large object is the file's" \
	test "$(stored_sha256 "$KEY/big.bin")" = "$(sha256sum <"$T_DIR/big.bin" | cut -d' ' -f1)"

# ---------- reads through faulty GETs: right bytes or an error, never wrong bytes ----------
fault_read_rules '"method": "GET", "path": "big.bin"' '"action": "status", "status": 500' 1 3 5 7
# a fresh mount, so nothing comes from the kernel's page cache or the daemon's read-ahead
MNT2=$T_DIR/mnt2
mount_snapfs swift://kubedb "$MNT2" "${OPTS[@]}" --cache-dir "$T_DIR/cache2"
fault_read "$MNT2/$KEY/big.bin" "$T_DIR/big.bin"
check "the proxy reset connections mid reply body" test "$(fp_get 's["injected"].get("reset_reply", 0)')" -ge 1
fault_read_done

# ---------- a segment corrupted in flight: Swift refuses it (ETag: 422), snapfs sends it again ----------
head -c 40M /dev/urandom >"$T_DIR/mid.bin"
fp_rules '[{"method": "PUT", "path": "^'"$SEGS"'", "skip": 1, "times": 1, "action": "corrupt"}]'
check "dd with one segment corrupted in flight" dd if="$T_DIR/mid.bin" of="$SNAP/mid.bin" bs=1M status=none
check "the proxy corrupted a segment" test "$(fp_get 's["injected"].get("corrupt", 0)')" -eq 1
log "Swift's answer to the corrupted segment: $(fp_get 's["corrupt_replies"]')"
check "Swift refused the corrupted segment (422 Unprocessable Entity)" \
	test "$(fp_get 'int(s["corrupt_replies"] == [422])')" = 1
check "the log says the segment was damaged and sent again" grep -q "damaged on the way, sending it again" \
	"$T_DIR/snapfs-mnt.log"
fp_reset
check "read the object from Swift directly" fetch "$KEY/mid.bin" "$T_DIR/direct.bin"
check "the object committed after the corruption is the file, byte for byte" cmp "$T_DIR/mid.bin" "$T_DIR/direct.bin"
rm -f "$T_DIR/direct.bin"
check "no segment but the object's own is left" test "$(own_segments "$KEY/mid.bin")" = ok

# ---------- the whole-file SHA-256 as object metadata: small objects, and through a rename ----------
head -c 100K /dev/urandom >"$T_DIR/small.bin"
check "a small file is written" cp "$T_DIR/small.bin" "$SNAP/small.bin"
check "the stored SHA-256 of a small object is the file's" \
	test "$(stored_sha256 "$KEY/small.bin")" = "$(sha256sum <"$T_DIR/small.bin" | cut -d' ' -f1)"
check "the small object is a plain one (no manifest)" is_plain "$KEY/small.bin"
check "rename the large object" mv "$SNAP/mid.bin" "$SNAP/mid-renamed.bin"
check "rename the small object" mv "$SNAP/small.bin" "$SNAP/small-renamed.bin"
check "the SHA-256 moved with the large object" \
	test "$(stored_sha256 "$KEY/mid-renamed.bin")" = "$(sha256sum <"$T_DIR/mid.bin" | cut -d' ' -f1)"
check "the SHA-256 moved with the small object" \
	test "$(stored_sha256 "$KEY/small-renamed.bin")" = "$(sha256sum <"$T_DIR/small.bin" | cut -d' ' -f1)"

# ---------- persistent fault: every segment PUT fails ----------
fp_rules '[{"method": "PUT", "path": "^'"$SEGS"'", "action": "status", "status": 500,
  "body": "<html><h1>Internal Error</h1></html>"}]'
fault_doomed segment 6
check "the failed object does not exist" test "$(swift_status "/kubedb/$KEY/doomed.bin")" = 404
no_doomed_segments() { test "$(swift_count kubedb_segments "$KEY/doomed.bin/")" = 0; }
check "no segment is left for it" eventually no_doomed_segments
check "the log says the file was NOT stored" eventually grep -q "NOT stored" "$T_DIR/snapfs-mnt.log"
check "the failed file is not listed" bash -c "! ls '$SNAP' | grep -qx doomed.bin"
fault_survives

# ---------- malformed container listings: EIO, never a crash ----------
echo one >"$T_DIR/f1"
for d in mal1 mal2 mal3 mal4; do
	code=$(swift_curl -X PUT -T "$T_DIR/f1" -o /dev/null -w '%{http_code}' "/kubedb/kubedb/demo/$d/snap/f1")
	[ "$code" = 201 ] || die "PUT kubedb/demo/$d/snap/f1 answered $code"
done
LIST='"method": "GET", "path": "^'"$ACCOUNT"'/kubedb$", "query": "format=json"'
fault_bad_listings "$LIST" JSON
fault_bad_listing "$MNT/kubedb/demo/mal3" "a listing cut inside an entry" '[{'"$LIST"', "action": "mangle", "how": "body",
  "body": "[{\"name\": \"kubedb/demo/mal3/snap/x\", \"bytes\": 12"}]'
fault_bad_listing "$MNT/kubedb/demo/mal4" "a listing that is JSON but not a list" \
	'[{'"$LIST"', "action": "mangle", "how": "body", "body": "{\"name\": [1, 2]}"}]'
fault_listing_back 4

umount_snapfs "$MNT"
rm -f "$T_DIR/big.bin" "$T_DIR/mid.bin"
finish
