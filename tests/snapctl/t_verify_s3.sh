#!/bin/bash
# snapctl verify against S3 (s3rver): the snapfs-sha256 metadata and the MD5 ETag of a one-request object,
# the ETag of a multipart one; an object another tool wrote.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/s3.sh"
source "$SNAPFS_SRC/tests/snapctl/lib.sh"
source "$SNAPFS_SRC/tests/snapctl/verify_lib.sh"

start_s3rver
SRC=s3://kubedb/team-a
CRED=(--secret-dir "$S3_SECRET" --endpoint "$S3_ENDPOINT")
verify_suite "$SRC" "$S3_DATA" "${CRED[@]}"

# s3rver gives a multipart object the MD5 of its bytes as ETag (AWS and RGW: MD5 of the part MD5s, "-N")
verify_checked "$SRC" "sha256 and md5 for a one-request object, s3rver's MD5 ETag for parts" \
	"[('base.tar', 'md5'), ('dumpfile.sql', 'sha256+md5'), ('extra/notes.txt', 'sha256+md5')]" "${CRED[@]}"

# written by curl: the ETag is its MD5
printf 'SELECT 1;\n' >"$T_DIR/small.sql"
s3put "$T_DIR/small.sql" kubedb/team-a/kubedb/demo/my/my-20250101-000000/dump.sql
check "an object curl wrote: ok by its MD5" sc verify "$SRC" demo/my/my-20250101-000000 "${CRED[@]}"
check "an object curl wrote: md5" has "$T_DIR/out" '^ok +demo/my/my-20250101-000000/dump\.sql +10 B +md5$'
finish
