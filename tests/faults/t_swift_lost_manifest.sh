#!/bin/bash
# Swift (a one-node cluster from Debian's packages) through the fault proxy: the manifest PUT of an SLO
# is stored by Swift but its reply is lost (drop_reply), and every retry is refused (503). The manifest
# in place is the new one: its segments must not be deleted (that left a broken object in place of the
# old one), close() succeeds and the object reads as the new file. A manifest PUT that never reached
# Swift must still fail with EIO and leave the old object whole; the failed upload's segments are kept
# for `snapctl retry` until `snapctl discard` deletes them.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/swift.sh"
source "$SNAPFS_SRC/tests/faults/proxy.sh"

start_swift
swift_mkcontainer kubedb
swift_token
start_fault_proxy "$SWIFT_URL"
ACCOUNT=${SWIFT_STORAGE_URL#"$SWIFT_URL"}     # /v1/AUTH_test
[ "$ACCOUNT" = /v1/AUTH_test ] || die "unexpected storage URL $SWIFT_STORAGE_URL"
FP_SECRET=$T_DIR/fp-secret
mkdir -p "$FP_SECRET"
printf '%s' "$FP_URL/auth/v1.0" >"$FP_SECRET/ST_AUTH"
cp "$SWIFT_SECRET/ST_USER" "$SWIFT_SECRET/ST_KEY" "$FP_SECRET/"
chmod 600 "$FP_SECRET"/*
MNT=$T_DIR/mnt
mount_snapfs swift://kubedb "$MNT" --secret-dir "$FP_SECRET" --endpoint "$FP_URL$ACCOUNT" --timeout 5 \
	--retries 2 --cache-dir "$T_DIR/cache" --part-size 8M --meta-ttl 0
LOG=$T_DIR/snapfs-mnt.log
KEY=kubedb/demo/pg/lost
SNAP=$MNT/$KEY

# fetch KEY FILE: the object straight from Swift (an SLO reads as its segments in order)
fetch() { [ "$(swift_curl -o "$2" -w '%{http_code}' "/kubedb/$1")" = 200 ]; }
is_file() { rm -f "$T_DIR/direct.bin"; fetch "$1" "$T_DIR/direct.bin" && cmp "$T_DIR/direct.bin" "$2"; }
# own_segments KEY: the segment container holds exactly the segments KEY's manifest lists
own_segments() {
	local listed stored
	listed=$(swift_curl "/kubedb/$1?multipart-manifest=get" | "$SWIFT_PY" -c '
import json, sys
for e in json.load(sys.stdin):
    print(e["name"].split("/", 2)[2])' | sort) || return 1
	stored=$(swift_curl "/kubedb_segments?format=json&prefix=$1/&limit=10000" | "$SWIFT_PY" -c '
import json, sys
for e in json.load(sys.stdin):
    print(e["name"])' | sort) || return 1
	[ -n "$listed" ] && [ "$listed" = "$stored" ] || { echo "listed: $listed" >&2; echo "stored: $stored" >&2; return 1; }
}
found() { grep -c "swift: $KEY/a.bin: the manifest was stored by an attempt whose reply was lost" "$LOG" || true; }
# the manifest PUT: PUT /v1/AUTH_test/kubedb/KEY?multipart-manifest=put (segments go to kubedb_segments)
MANIFEST_PATH="^$ACCOUNT/kubedb/"

head -c 20M /dev/urandom >"$T_DIR/a.bin"
check "a first version is written" cp "$T_DIR/a.bin" "$SNAP/a.bin"
check "it is stored" is_file "$KEY/a.bin" "$T_DIR/a.bin"

# ---------- the manifest stored, its reply lost, every retry refused ----------
head -c 20M /dev/urandom >"$T_DIR/b.bin"
fp_rules '[{"method": "PUT", "path": "'"$MANIFEST_PATH"'", "query": "multipart-manifest=put", "times": 1,
   "action": "drop_reply"},
  {"method": "PUT", "path": "'"$MANIFEST_PATH"'", "query": "multipart-manifest=put", "action": "status",
   "status": 503, "body": "<html><h1>Service Unavailable</h1></html>", "content_type": "text/html"}]'
check "a new version whose manifest was stored but not confirmed succeeds" cp "$T_DIR/b.bin" "$SNAP/a.bin"
check "the proxy dropped a manifest reply" test "$(fp_get 's["injected"].get("drop_reply", 0)')" = 1
check "and refused the retries" test "$(fp_get 's["injected"].get("status", 0)')" -ge 1
fp_reset
check "the object reads as the new version, whole" is_file "$KEY/a.bin" "$T_DIR/b.bin"
check "its segments are all there, and only they" own_segments "$KEY/a.bin"
check "the log says the stored manifest was found" test "$(found)" = 1
check "the log does not say NOT stored" bash -c "! grep -q 'lost/a.bin: NOT stored' '$LOG'"

# ---------- a manifest PUT that never reached Swift: EIO, the old object whole ----------
head -c 20M /dev/urandom >"$T_DIR/c.bin"
fp_rules '[{"method": "PUT", "path": "'"$MANIFEST_PATH"'", "query": "multipart-manifest=put", "action": "status",
   "status": 503, "body": "<html><h1>Service Unavailable</h1></html>", "content_type": "text/html"}]'
check "a new version whose manifest PUT is refused fails" \
	bash -c "! cp '$T_DIR/c.bin' '$SNAP/a.bin' 2>'$T_DIR/cp.err'"
fp_reset
check "the object is still the version before, whole" is_file "$KEY/a.bin" "$T_DIR/b.bin"
check "the log says NOT stored" eventually grep -q "lost/a.bin: NOT stored" "$LOG"
check "the failed upload is kept" grep -q "lost/a.bin: its upload is kept in the store" "$LOG"
check "snapctl discard drops it" "$SNAPFS_BUILD/snapctl" discard swift://kubedb "/$KEY/a.bin" \
	--secret-dir "$SWIFT_SECRET" --cache-dir "$T_DIR/cache"
check "the failed upload's segments are gone" eventually own_segments "$KEY/a.bin"
check "and no manifest was taken as found" test "$(found)" = 1

umount_snapfs "$MNT"
finish
