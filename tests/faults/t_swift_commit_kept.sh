#!/bin/bash
# A refused manifest PUT (the SLO's, or the DLO's where the store takes no SLO) through the fault proxy,
# on Debian's Swift and on Ceph RGW's Swift API (the scenario of tests/lib/commit_kept.sh):
# (a) refused for less than --commit-retry: the commit is tried again with backoff without deleting
#     the segments in between, close() succeeds, the object is whole and its 3 segments are all there is;
# (b) refused for longer: close() fails with EIO, no object, `snapctl wait` exits 1, the segments stay
#     under the upload's prefix and the record is kept (status, snapctl failed); with the proxy healthy
#     again `snapctl retry` lists them and writes the manifest (SLO or DLO, as the mount does), byte for
#     byte; `snapctl discard` leaves no segment; an object stored again after its commit failed is not
#     replaced by a retry;
# (c) a failed commit left by a mount that stopped survives the next mount, and `snapctl retry`
#     stores it with no mount running.
# snapfs-servers: swift rgw
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/swift.sh"
source "$SNAPFS_SRC/tests/faults/proxy.sh"
source "$SNAPFS_SRC/tests/lib/commit_kept.sh"

WINDOW=10
start_swift
swift_mkcontainer kubedb
swift_token
start_fault_proxy "$SWIFT_URL"
ACCOUNT=${SWIFT_STORAGE_URL#"$SWIFT_URL"}     # /v1/AUTH_test (Swift), /swift/v1 (RGW)
AUTH_PATH=${SWIFT_AUTH#"$SWIFT_URL"}          # /auth/v1.0 (Swift), /auth/1.0 (RGW)
FP_SECRET=$T_DIR/fp-secret
mkdir -p "$FP_SECRET"
printf '%s' "$FP_URL$AUTH_PATH" >"$FP_SECRET/ST_AUTH"
cp "$SWIFT_SECRET/ST_USER" "$SWIFT_SECRET/ST_KEY" "$FP_SECRET/"
chmod 600 "$FP_SECRET"/*
kept_mount swift://kubedb --secret-dir "$FP_SECRET" --endpoint "$FP_URL$ACCOUNT" --part-size 8M
# the commit: an SLO manifest PUT in the object container; a DLO's manifest is a PUT naming its prefix
REFUSE='{"rules": [{"method": "PUT", "path": "^'"$ACCOUNT"'/kubedb/", "query": "multipart-manifest=put",
 "action": "status", "status": 503},
 {"method": "PUT", "path": "^'"$ACCOUNT"'/kubedb/", "header": "x-object-manifest:", "action": "status", "status": 503}]}'

sc() { local cmd=$1; shift; "$SNAPCTL" "$cmd" "$@" --secret-dir "$SWIFT_SECRET" --cache-dir "$CACHE"; }
whole() { swift_fresh -o "$T_DIR/$1.got" "/kubedb/$K/$1" && cmp -s "$T_DIR/$1" "$T_DIR/$1.got"; }
absent() { swift_fresh -I "/kubedb/$K/$1" | head -1 | grep -q ' 404'; }
segments() { swift_count kubedb_segments "$K/$1/"; }
upload_open() { [ "$(segments "$1")" -gt 0 ]; }
no_upload() { [ "$(segments "$1")" = 0 ]; }

commit_retried
check "(a) its 3 segments are all there is" test "$(segments a.bin)" = 3
commit_kept
check "(b) the retried object owns its 3 segments, no more" test "$(segments b.bin)" = 3
commit_kept_across_mounts
check "(c) the stored object owns its 3 segments, no more" test "$(segments d.bin)" = 3
finish
