#!/bin/bash
# snapctl against S3 (Ceph RGW), with a prefix in the SOURCE. RGW has ListMultipartUploads, so a dump in
# progress shows as Running (and rm refuses it).
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/rgw.sh"
source "$SNAPFS_SRC/tests/snapctl/lib.sh"

start_rgw_s3 mem=256
store_suite s3://kubedb/team-a --secret-dir "$S3_SECRET" --endpoint "$S3_ENDPOINT"

# objects another tool wrote (curl), seen by snapctl without any mount
printf 'SELECT 1;\n' >"$T_DIR/small.sql"
s3put "$T_DIR/small.sql" kubedb/kubedb/demo/my/my-20250101-000000/dump.sql
s3put "$T_DIR/small.sql" kubedb/kubedb/demo/my/my-20250101-0000001/dump.sql
check "ls objects written by curl" \
	sc ls s3://kubedb demo/my -o json --secret-dir "$S3_SECRET" --endpoint "$S3_ENDPOINT"
check "ls objects written by curl: both" json_eq '[(s["name"], s["size"]) for s in j]' \
	"[('my-20250101-000000', 10), ('my-20250101-0000001', 10)]"
check "rm the shorter name" sc rm s3://kubedb demo/my/my-20250101-000000 --yes --secret-dir "$S3_SECRET" \
	--endpoint "$S3_ENDPOINT"
check "the longer name survives" s3get kubedb/kubedb/demo/my/my-20250101-0000001/dump.sql "$T_DIR/back.sql"
check "the longer name survives whole" same_file "$T_DIR/small.sql" "$T_DIR/back.sql"
check "the shorter name is gone" \
	fails s3curl GET kubedb/kubedb/demo/my/my-20250101-000000/dump.sql

# wrong credentials: one line that names the key id, never the secret
write_s3_secret "$T_DIR/bad" WRONGKEYID wrong-secret-value-1234
check "wrong credentials fail" \
	fails "$SNAPCTL" ls s3://kubedb --secret-dir "$T_DIR/bad" --endpoint "$S3_ENDPOINT"
cat "$T_DIR/err"
check "wrong credentials: one line" one_line "$T_DIR/err"
check "wrong credentials: names the key id" has "$T_DIR/err" WRONGKEYID
check "wrong credentials: the secret is not shown" bash -c "! grep -q wrong-secret-value '$T_DIR/err'"
check "a missing bucket fails" \
	fails "$SNAPCTL" ls s3://nobucket --secret-dir "$S3_SECRET" --endpoint "$S3_ENDPOINT"
cat "$T_DIR/err"
check "a missing bucket: one line" one_line "$T_DIR/err"
finish
