#!/bin/bash
# The write check at mount on S3 (Ceph RGW, tests/lib/rgw.sh): a one-part multipart upload of
# PREFIX/.snapfs-probe-<random>, its CompleteMultipartUpload, a HEAD and a DELETE. A mount leaves no
# probe object and no open upload (ListMultipartUploads); a store that refuses CompleteMultipartUpload
# (the fault proxy answers 403 AccessDenied, then 400 InvalidPart, to the POST ?uploadId=) fails the
# mount with one line naming the step and the store's reason, before anything is mounted, and the upload
# is aborted (none is left open). The mount time with and without the check is logged.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/rgw.sh"
source "$SNAPFS_SRC/tests/faults/proxy.sh"
source "$SNAPFS_SRC/tests/lib/probe.sh"

start_rgw_s3 mem=128
OPTS=(--secret-dir "$S3_SECRET" --endpoint "$S3_ENDPOINT")
# probe_keys: every key in the bucket that is a probe object
probe_keys() { s3keys kubedb "" | grep -F .snapfs-probe- || true; }

probe_mount ok s3://kubedb/team-a "${OPTS[@]}" --cache-dir "$T_DIR/cache-ok"
check "S3: mounted after the write check" probe_ok ok
key=$(probe_key ok)
check "the probe object is under the prefix, beside kubedb/" grep -Eq '^team-a/\.snapfs-probe-[0-9a-f]{16}$' \
	<<<"$key"
check "no probe object left" test -z "$(probe_keys)"
check "no multipart upload left open" no_open_uploads kubedb
umount_snapfs "$T_DIR/mnt-ok"
probe_measure time s3://kubedb/team-a "${OPTS[@]}" --cache-dir "$T_DIR/cache-time"
check "no probe object left after 5 more mounts" test -z "$(probe_keys)"

start_fault_proxy "$S3_ENDPOINT"
# refused STATUS CODE: CompleteMultipartUpload answered so; the mount must fail with the store's words
refused() {
	local status=$1 code=$2
	fp_reset
	fp_rules '[{"method": "POST", "query": "uploadId=", "action": "status", "status": '"$status"',
		"s3_code": "'"$code"'", "message": "refused by the test"}]'
	probe_mount "c$status" s3://kubedb/team-a --secret-dir "$S3_SECRET" --endpoint "$FP_URL" \
		--cache-dir "$T_DIR/cache-c$status"
	check "CompleteMultipartUpload answered $status $code: the mount fails with one line" probe_refused \
		"c$status" "^snapfs: cannot mount s3://kubedb/team-a: write check: committing the chunked upload of team-a/\.snapfs-probe-[0-9a-f]{16} failed: s3 CompleteMultipartUpload team-a/\.snapfs-probe-[0-9a-f]{16}: HTTP $status $code: refused by the test$"
	log "it said: $(cat "$T_DIR/c$status.err")"
	check "the refusal came from the commit request itself" grep -Eq "^POST /kubedb/team-a/\.snapfs-probe-[0-9a-f]{16}\?uploadId=[^ ]* fault:status" "$FP_JOURNAL"
	check "the upload was aborted (DELETE ?uploadId=)" \
		grep -Eq "^DELETE /kubedb/team-a/\.snapfs-probe-[0-9a-f]{16}\?uploadId=[^ ]* 204" "$FP_JOURNAL"
	check "no probe object left" bash -c '[ -z "$1" ]' _ "$(probe_keys)"
	check "no multipart upload left open (ListMultipartUploads)" no_open_uploads kubedb
}
refused 403 AccessDenied
refused 400 InvalidPart
finish
