#!/bin/bash
# snapctl verify against S3 on Ceph RGW: the snapfs-sha256 metadata and the MD5 ETag of a one-request
# object, and the multipart ETag ("MD5 of the part MD5s"-N) of an object snapfs uploaded in parts, rebuilt
# from snapfs's part sizes (the default, or --part-size for a mount that set its own); the byte flipped
# in the RADOS objects behind them.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/rgw.sh"
source "$SNAPFS_SRC/tests/snapctl/lib.sh"
source "$SNAPFS_SRC/tests/snapctl/verify_lib.sh"

start_rgw_s3 mem=512
SRC=s3://kubedb/team-a
CRED=(--secret-dir "$S3_SECRET" --endpoint "$S3_ENDPOINT")
VERIFY_FLIP=flip_rados verify_suite "$SRC" "" "${CRED[@]}"

verify_checked "$SRC" "sha256 and md5 for a one-request object, the multipart ETag for parts" \
	"[('base.tar', 'multipart-etag(3 parts)'), ('dumpfile.sql', 'sha256+md5'), ('extra/notes.txt', 'sha256+md5')]" \
	"${CRED[@]}"
rc=0; sc verify "$SRC" demo/pg/bad2 -o json "${CRED[@]}" || rc=$?
check "verify bad2 -o json: exit 1" test "$rc" = 1
check "verify bad2: the multipart ETag says which" \
	json_eq '[o["detail"].split(":")[0] for o in j["objects"] if o["result"] == "mismatch"]' \
	"[\"multipart ETag (snapfs's part sizes) mismatch\"]"

# a mount with other part sizes: 20 MiB in 6 MiB parts is 4 parts, which the default does not give
mount_snapfs "$SRC" "$T_DIR/m2" "${CRED[@]}" --cache-dir "$T_DIR/c2" --part-size 6M
mkdir -p "$T_DIR/m2/kubedb/demo/pg/six"
head -c 20M /dev/urandom >"$T_DIR/six"
cp "$T_DIR/six" "$T_DIR/m2/kubedb/demo/pg/six/base.tar"
umount_snapfs "$T_DIR/m2"
check "other part sizes: verify" sc verify "$SRC" demo/pg/six "${CRED[@]}"
cat "$T_DIR/out"
check "other part sizes: found among even sizes" has "$T_DIR/out" '^ok +demo/pg/six/base\.tar .*multipart-etag\(4 parts\)$'
check "other part sizes: --part-size 6M" sc verify "$SRC" demo/pg/six --part-size 6M "${CRED[@]}"
check "other part sizes: --part-size 6M: ok" has "$T_DIR/out" '^ok +demo/pg/six/base\.tar .*multipart-etag\(4 parts\)$'

# written by curl in one request: its ETag is its MD5
printf 'SELECT 1;\n' >"$T_DIR/small.sql"
s3put "$T_DIR/small.sql" kubedb/team-a/kubedb/demo/my/my-20250101-000000/dump.sql
check "an object curl wrote: ok by its MD5" sc verify "$SRC" demo/my/my-20250101-000000 "${CRED[@]}"
check "an object curl wrote: md5" has "$T_DIR/out" '^ok +demo/my/my-20250101-000000/dump\.sql +10 B +md5$'
finish
