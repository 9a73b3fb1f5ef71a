# pg_dumpall through a mount, the way a backup job runs it, shared by the per-store t_pg_dump.sh tests.
# Use after common.sh, with PostgreSQL started (pg_start) and filled (pg_fill).

# pgdump_start SCALE: PostgreSQL running (pg_ctl writes its log as postgres, into T_DIR which root owns)
# and filled by pg_fill SCALE.
pgdump_start() {
	touch "$T_DIR/pg.log" && chown postgres: "$T_DIR/pg.log"
	pg_start
	pg_fill "$1"
}

# same_dump FILE: FILE is the reference dump (pgdump_both's), but for pg_dumpall's random \restrict lines
same_dump() { dump_clean "$1" | cmp -s - "$T_DIR/local.clean"; }

# pgdump_both SNAP: a reference dump in T_DIR, then pg_dumpall into SNAP (made) both ways it writes
# (`> file`: SNAP/dumpfile.sql; `-f file`: SNAP/dump-f.sql), each read back through the mount the same.
pgdump_both() {
	mkdir -p "$1"
	pg_dumpall >"$T_DIR/local.sql"
	dump_clean "$T_DIR/local.sql" >"$T_DIR/local.clean"
	log "local dump: $(stat -c %s "$T_DIR/local.sql") bytes"
	check "pg_dumpall > file" sh -c "pg_dumpall >'$1/dumpfile.sql'"
	check "pg_dumpall -f file" pg_dumpall -f "$1/dump-f.sql"
	check "> file: same dump through the mount" same_dump "$1/dumpfile.sql"
	check "-f file: same dump through the mount" same_dump "$1/dump-f.sql"
}

# pgdump_restore SNAP: from a fresh mount (the caller remounted, with an empty cache) the dump reads the
# same; pg_fill's databases dropped, SNAP/dump-f.sql replayed with psql, the cluster dumps the same again.
pgdump_restore() {
	local db
	check "after a remount: same dump" same_dump "$1/dumpfile.sql"
	for db in shop inventory analytics; do
		psql -q -c "DROP DATABASE $db" postgres
	done
	check "restore with psql from the mount" sh -c "psql -q -X -f '$1/dump-f.sql' postgres >'$T_DIR/restore.log' 2>&1"
	pg_dumpall >"$T_DIR/after.sql"
	check "the restored cluster dumps the same" same_dump "$T_DIR/after.sql"
}
