#!/bin/bash
# pg_dumpall into the snapshot layout on RGW, both ways pg_dumpall writes (`> file`: one descriptor shared
# by a pg_dump child per database; `-f file`: closed and reopened with O_APPEND per database, an append to
# the committed object), then a restore from the mount. What landed in the bucket is read back with curl
# (its own SigV4), not through snapfs.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/rgw.sh"
source "$SNAPFS_SRC/tests/lib/pgdump.sh"
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN

start_rgw_s3 mem=512
pgdump_start 4

MNT=$T_DIR/mnt
# the smallest part S3 allows, so the dumps are several parts and the appends carry a multi-MiB base
mount_snapfs s3://kubedb/backups "$MNT" --secret-dir "$S3_SECRET" --endpoint "$S3_ENDPOINT" \
	--cache-dir "$T_DIR/cache" --part-size 5M --uploads 4
SNAP=$MNT/kubedb/demo/pg/snap1
KEY=kubedb/backups/kubedb/demo/pg/snap1

pgdump_both "$SNAP"

check "> file: fetch the object with curl" s3get "$KEY/dumpfile.sql" "$T_DIR/direct.sql"
check "-f file: fetch the object with curl" s3get "$KEY/dump-f.sql" "$T_DIR/direct-f.sql"
check "> file: the object in the bucket is the dump" same_dump "$T_DIR/direct.sql"
check "-f file: the object in the bucket is the dump" same_dump "$T_DIR/direct-f.sql"
check "the dump is several parts long" test "$(stat -c %s "$T_DIR/direct.sql")" -gt $((15 * 1024 * 1024))
check "ls shows the size the bucket has" \
	test "$(stat -c %s "$SNAP/dumpfile.sql")" = "$(stat -c %s "$T_DIR/direct.sql")"
check "no multipart upload is left open in the bucket" no_open_uploads kubedb

# a fresh mount (empty cache) still reads the same bytes
umount_snapfs "$MNT"
mount_snapfs s3://kubedb/backups "$MNT" --secret-dir "$S3_SECRET" --endpoint "$S3_ENDPOINT" \
	--cache-dir "$T_DIR/cache2"
pgdump_restore "$SNAP"
check "row counts survived" test "$(psql -At -c 'SELECT count(*) FROM pgbench_accounts' shop)" = 400000

umount_snapfs "$MNT"
finish
