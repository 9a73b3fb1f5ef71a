#!/bin/bash
# pg_dumpall into the snapshot layout on RGW, both ways pg_dumpall writes (`> file`: one descriptor shared
# by a pg_dump child per database; `-f file`: closed and reopened with O_APPEND per database, an append to
# the committed object), then a restore from the mount. What landed in the bucket is read back with curl
# (its own SigV4), not through snapfs.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/rgw.sh"
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN

start_rgw_s3 mem=512
touch "$T_DIR/pg.log" && chown postgres: "$T_DIR/pg.log"
pg_start
pg_fill 4

MNT=$T_DIR/mnt
# the smallest part S3 allows, so the dumps are several parts and the appends carry a multi-MiB base
mount_snapfs s3://kubedb/backups "$MNT" --secret-dir "$S3_SECRET" --endpoint "$S3_ENDPOINT" \
	--cache-dir "$T_DIR/cache" --part-size 5M --uploads 4
SNAP=$MNT/kubedb/demo/pg/snap1
KEY=kubedb/backups/kubedb/demo/pg/snap1
mkdir -p "$SNAP"

pg_dumpall >"$T_DIR/local.sql"
dump_clean "$T_DIR/local.sql" >"$T_DIR/local.clean"
log "local dump: $(stat -c %s "$T_DIR/local.sql") bytes"

check "pg_dumpall > file" sh -c "pg_dumpall >'$SNAP/dumpfile.sql'"
check "pg_dumpall -f file" pg_dumpall -f "$SNAP/dump-f.sql"

same_dump() { dump_clean "$1" | cmp -s - "$T_DIR/local.clean"; }
check "> file: same dump through the mount" same_dump "$SNAP/dumpfile.sql"
check "-f file: same dump through the mount" same_dump "$SNAP/dump-f.sql"

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
check "after a remount: same dump" same_dump "$SNAP/dumpfile.sql"

# restore: drop the databases, replay the dump from the mount, dump again
for db in shop inventory analytics; do
	psql -q -c "DROP DATABASE $db" postgres
done
check "restore with psql from the mount" sh -c "psql -q -X -f '$SNAP/dump-f.sql' postgres >'$T_DIR/restore.log' 2>&1"
pg_dumpall >"$T_DIR/after.sql"
check "the restored cluster dumps the same" same_dump "$T_DIR/after.sql"
check "row counts survived" test "$(psql -At -c 'SELECT count(*) FROM pgbench_accounts' shop)" = 400000

umount_snapfs "$MNT"
finish
