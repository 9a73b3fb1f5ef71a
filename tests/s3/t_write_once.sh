#!/usr/bin/env bash
# Write-once on S3 (Ceph RGW 16): RGW honours If-None-Match: * on PutObject but not on
# CompleteMultipartUpload. The mount's probe finds that and says so; the refusals of --write-once hold
# (the check at open); two mounts racing for one new small file: exactly one wins.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/rgw.sh"
source "$SNAPFS_SRC/tests/lib/write_once.sh"

start_rgw_s3 mem=256
CRED=(--secret-dir "$S3_SECRET" --endpoint "$S3_ENDPOINT")
mount_snapfs s3://kubedb/wo "$T_DIR/m1" "${CRED[@]}" --cache-dir "$T_DIR/c1" --meta-ttl 0 --write-once
mount_snapfs s3://kubedb/wo "$T_DIR/m2" "${CRED[@]}" --cache-dir "$T_DIR/c2" --meta-ttl 0 -o write_once
check "the probe: one-request objects are conditional, objects in parts are not" grep -q \
	'write-once: the s3 store honours a conditional create for an object written in one request, not for one uploaded in parts' \
	"$T_DIR/snapfs-m1.log"
# probe_gone: no probe object is listed and no multipart upload is left open
probe_gone() {
	local list ups
	list=$(s3curl GET 'kubedb?list-type=2') || return 1
	ups=$(rgw_uploads kubedb) || return 1
	! grep -q write-once-probe <<<"$list" && [ -z "$ups" ]
}
check "the probe leaves no object and no upload" probe_gone
mkdir -p "$T_DIR/m1/kubedb/demo/pg/race"
check "a race for a small file: the second close fails" \
	wo_race "$T_DIR/m1/kubedb/demo/pg/race/small.sql" "$T_DIR/m2/kubedb/demo/pg/race/small.sql" 100000
check "the store holds the first writer's small file" only_a "$T_DIR/m2/kubedb/demo/pg/race/small.sql"
umount_snapfs "$T_DIR/m2"
write_once_suite "$T_DIR/m1" "$T_DIR/snapfs-m1.log"
umount_snapfs "$T_DIR/m1"
finish
