# pg_dumpall into the layout on a gs:// mount, both ways (stdout redirect and -f, which reopens the
# file with O_APPEND per database: GCS compose), then restore from the mount and compare.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/gcs.sh"

start_gcs_server
# pg_ctl -l writes as postgres into the root-owned work dir: give it the log file
install -o postgres -m 644 /dev/null "$T_DIR/pg.log"
pg_start pg
pg_fill 2
M=$T_DIR/mnt
mount_snapfs gs://kubedb/team-a "$M" --secret-dir "$GCS_SECRET" --endpoint "$GCS_URL" \
	--cache-dir "$T_DIR/cache" --part-size 4M
SNAP=$M/kubedb/demo/pg/snap1
mkdir -p "$SNAP"

runuser -u postgres -- pg_dumpall -h "$PGHOST" -p "$PGPORT" >"$T_DIR/ref.sql"
check "pg_dumpall > file on the mount" sh -c "pg_dumpall >'$SNAP/dumpfile.sql'"
check "pg_dumpall -f file on the mount" pg_dumpall -f "$SNAP/dumpfile-f.sql"
check "the redirected dump reads back like a local one" \
	cmp -s <(dump_clean "$T_DIR/ref.sql") <(dump_clean "$SNAP/dumpfile.sql")
check "the -f dump reads back like a local one" \
	cmp -s <(dump_clean "$T_DIR/ref.sql") <(dump_clean "$SNAP/dumpfile-f.sql")
# whether an append composes or re-uploads is the cache layer's choice (t_backend checks compose itself)
log "dump is $(stat -c %s "$SNAP/dumpfile.sql") bytes; $(gcs_stat composes) composes"
check "no temporary left behind" [ -z "$(ls "$GCS_DATA/kubedb" | grep -F 'snapfs%2Ftmp' || true)" ]

umount_snapfs "$M"
# what the server stored, not what the mount shows
check "the stored object is the dump" \
	cmp -s <(dump_clean "$T_DIR/ref.sql") <(dump_clean "$(gcs_obj_path team-a/kubedb/demo/pg/snap1/dumpfile.sql)")
check "the stored -f object is the dump" \
	cmp -s <(dump_clean "$T_DIR/ref.sql") <(dump_clean "$(gcs_obj_path team-a/kubedb/demo/pg/snap1/dumpfile-f.sql)")

# restore from a fresh mount into the emptied cluster
mount_snapfs gs://kubedb/team-a "$M" --secret-dir "$GCS_SECRET" --endpoint "$GCS_URL" \
	--cache-dir "$T_DIR/cache2"
for db in shop inventory analytics; do psql -q -c "DROP DATABASE $db" postgres; done
check "restore with psql from the mount" sh -c "psql -q -X -f '$SNAP/dumpfile.sql' postgres >'$T_DIR/restore.log' 2>&1"
pg_dumpall >"$T_DIR/after.sql"
check "the restored cluster dumps the same" cmp -s <(dump_clean "$T_DIR/ref.sql") <(dump_clean "$T_DIR/after.sql")
check "shop has its rows back" [ "$(psql -tAq -c 'SELECT count(*) FROM pgbench_accounts' shop)" -eq 200000 ]
umount_snapfs "$M"
check "no upload session left open" [ "$(gcs_stat sessions_open)" -eq 0 ]
finish
