#!/usr/bin/env bash
# kill -9 during two multipart uploads to S3 (Ceph RGW, which lists open multipart uploads; s3rver
# cannot), then a remount with the same cache dir: the remount aborts both (tests/lib/crash.sh), and
# ListMultipartUploads shows none left.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/rgw.sh"
source "$SNAPFS_SRC/tests/lib/crash.sh"

# the store holds at most the 12 MiB dump, 2 x 40 MiB of parts and an 11 MiB file; memstore takes
# about twice that in RAM
start_rgw mem=512
rgw_mkbucket kubedb

crash_mount() {
	local mnt=$1; shift
	mount_snapfs s3://kubedb "$mnt" --secret-dir "$S3_SECRET" --endpoint "$S3_ENDPOINT" "$@"
}
# the multipart uploads still open below the crash folder, with their parts
crash_leftovers() {
	local key id
	rgw_uploads kubedb "$CRASH_DIR/" | while read -r key id; do
		echo "$key $id: $(s3curl GET "kubedb/$key?uploadId=$(urlq "$id")" | grep -o '<PartNumber>' | wc -l) parts"
	done
}
crash_get() { s3curl GET "kubedb/$1" -o "$2" 2>/dev/null; }
export -f crash_get s3curl
export S3_ENDPOINT S3_KEY_ID S3_KEY

crash_run
finish
