#!/bin/bash
# A refused final commit (CompleteMultipartUpload) on Ceph RGW, through the fault proxy:
# (a) refused for less than --commit-retry: close() succeeds and the object is whole;
# (b) refused for longer: close() fails with EIO, no object, `snapctl wait` exits 1, the upload stays
#     open in the store and its record is kept (status, snapctl failed); with the proxy healthy again
#     `snapctl retry` (the mount still running) publishes it byte for byte, `snapctl discard` leaves no
#     object and no upload; a file stored again after its commit failed is not replaced by a retry;
# (c) a failed commit left by a mount that stopped survives the next mount (kept, not discarded as a
#     crashed upload is) and `snapctl retry` stores it with no mount running.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/rgw.sh"
source "$SNAPFS_SRC/tests/faults/proxy.sh"
source "$SNAPFS_SRC/tests/lib/commit_kept.sh"
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN

WINDOW=15
start_rgw mem=320
rgw_mkbucket kubedb
start_fault_proxy "$S3_ENDPOINT"

REFUSE='{"rules": [{"method": "POST", "query": "uploadId=", "action": "status", "status": 503, "s3_code": "SlowDown"}]}'
kept_mount s3://kubedb --secret-dir "$S3_SECRET" --endpoint "$FP_URL"
# sc COMMAND ARGS...: snapctl with the store reached directly (the proxy may be refusing)
sc() { local cmd=$1; shift; "$SNAPCTL" "$cmd" "$@" --secret-dir "$S3_SECRET" --endpoint "$S3_ENDPOINT" --cache-dir "$CACHE"; }
whole() { s3get "kubedb/$K/$1" "$T_DIR/$1.got" && cmp -s "$T_DIR/$1" "$T_DIR/$1.got"; }
absent() { [ "$(s3curl HEAD "kubedb/$K/$1" -o /dev/null -w '%{http_code}' 2>/dev/null)" = 404 ]; }
upload_open() { rgw_uploads kubedb "$K/$1" | grep -q "^$K/$1 "; }
no_upload() { ! rgw_uploads kubedb "$K/$1" | grep -q .; }

commit_retried
commit_kept
commit_kept_across_mounts
check "no multipart upload left open" no_open_uploads kubedb
finish
