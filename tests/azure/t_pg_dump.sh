# The job snapfs exists for: pg_dumpall into the snapshot layout on Azure, both ways pg_dumpall writes
# (`> file`: one descriptor shared by a pg_dump child per database; `-f file`: closed and reopened with
# O_APPEND per database, which appends by naming the committed blocks in a new block list), then a
# restore from the mount. What landed in Azurite is read back with azcli, not through snapfs.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/azure.sh"
source "$SNAPFS_SRC/tests/lib/pgdump.sh"

start_azurite
pgdump_start 2

MNT=$T_DIR/mnt
# small parts, so each dump is many blocks and each append lands on a multi-block blob
mount_snapfs azure://kubedb/backups "$MNT" --secret-dir "$AZ_SECRET" --endpoint "$AZ_ENDPOINT" \
	--cache-dir "$T_DIR/cache" --part-size 2M --uploads 4
SNAP=$MNT/kubedb/demo/pg/snap1
BLOB=backups/kubedb/demo/pg/snap1

pgdump_both "$SNAP"

azcli get kubedb "$BLOB/dumpfile.sql" "$T_DIR/direct.sql"
azcli get kubedb "$BLOB/dump-f.sql" "$T_DIR/direct-f.sql"
check "> file: the blob in Azurite is the dump" same_dump "$T_DIR/direct.sql"
check "-f file: the blob in Azurite is the dump" same_dump "$T_DIR/direct-f.sql"
check "no uncommitted blocks left on the > dump" test "$(azcli uncommitted kubedb "$BLOB/dumpfile.sql")" = 0
check "no uncommitted blocks left on the -f dump" test "$(azcli uncommitted kubedb "$BLOB/dump-f.sql")" = 0
check "ls shows both dumps with their sizes" \
	test "$(stat -c %s "$SNAP/dumpfile.sql")" = "$(stat -c %s "$T_DIR/direct.sql")"

# a fresh mount (empty cache) still reads the same bytes
umount_snapfs "$MNT"
mount_snapfs azure://kubedb/backups "$MNT" --secret-dir "$AZ_SECRET" --endpoint "$AZ_ENDPOINT" \
	--cache-dir "$T_DIR/cache2"
pgdump_restore "$SNAP"
check "row counts survived" test "$(psql -At -c 'SELECT count(*) FROM item' inventory)" = 20000

umount_snapfs "$MNT"
finish
