#!/usr/bin/env bash
# pg_dumpall into the kubedb layout on a file:// mount, both ways real dumps are written, then a
# restore into a fresh cluster from the mount, and rm -r of the snapshot.
source "$SNAPFS_SRC/tests/lib/common.sh"

STORE=$T_DIR/store
mkdir -p "$STORE"
pg_start src
pg_fill 4
SRC_HOST=$PGHOST SRC_PORT=$PGPORT
pg_dumpall >"$T_DIR/local.sql"

mount_snapfs "file://$STORE" "$T_DIR/mnt" --cache-dir "$T_DIR/cache" --part-size 8M --cache-size 64M
DB=$T_DIR/mnt/kubedb/demo/script-postgres

# 1. pg_dumpall > f: one pg_dump child per database shares the descriptor; no mkdir first
pg_dumpall >"$DB/instant-snapshot/dumpfile.sql"
check "pg_dumpall > f: the dump through the mount equals the local one" \
	cmp -s <(dump_clean "$T_DIR/local.sql") <(dump_clean "$DB/instant-snapshot/dumpfile.sql")
check "pg_dumpall > f: the stored object is the same bytes" \
	cmp -s "$DB/instant-snapshot/dumpfile.sql" "$STORE/kubedb/demo/script-postgres/instant-snapshot/dumpfile.sql"
xattr() { python3 -c 'import os, sys; print(os.getxattr(sys.argv[1], sys.argv[2]).decode())' "$@" 2>/dev/null || echo none; }
F=$STORE/kubedb/demo/script-postgres/instant-snapshot/dumpfile.sql
check "the stored dump carries its SHA-256 (user.snapfs.sha256)" \
	test "$(xattr "$F" user.snapfs.sha256)" = "$(sha256sum <"$F" | cut -d' ' -f1)"

# 2. pg_dumpall -f f: closes and reopens with O_APPEND for every database
pg_dumpall -f "$DB/snap-append/dumpfile.sql"
check "pg_dumpall -f f: every database is in the stored dump" \
	cmp -s <(dump_clean "$T_DIR/local.sql") <(dump_clean "$STORE/kubedb/demo/script-postgres/snap-append/dumpfile.sql")
check "an appended dump carries no stale digest" \
	test "$(xattr "$STORE/kubedb/demo/script-postgres/snap-append/dumpfile.sql" user.snapfs.sha256)" = none
check "the dump is big enough to have been cut into parts" \
	test "$(stat -c %s "$DB/instant-snapshot/dumpfile.sql")" -gt $((20 * 1024 * 1024))

check "ls shows both snapshots" bash -c "ls '$DB' | tr '\n' ' ' | grep -qx 'instant-snapshot snap-append '"

# 3. restore from the mount into a fresh cluster: the data matches
pg_start dst
psql -q -X -f "$DB/instant-snapshot/dumpfile.sql" postgres >"$T_DIR/restore.log" 2>&1
pg_dumpall >"$T_DIR/restored.sql"
check "restored cluster dumps the same as the source" \
	cmp -s <(dump_clean "$T_DIR/local.sql") <(dump_clean "$T_DIR/restored.sql")
check "row counts match after restore" \
	test "$(psql -tA -c 'select count(*) from pgbench_accounts' shop)" = 400000

# 4. rm -r deletes the snapshot from the store
rm -r "$DB/instant-snapshot"
check "rm -r: the snapshot is gone from the mount" test ! -e "$DB/instant-snapshot/dumpfile.sql"
check "rm -r: the snapshot is gone from the store" \
	test -z "$(find "$STORE/kubedb/demo/script-postgres/instant-snapshot" -type f 2>/dev/null)"
check "rm -r: the other snapshot stays" test -s "$DB/snap-append/dumpfile.sql"

umount_snapfs "$T_DIR/mnt"
finish
