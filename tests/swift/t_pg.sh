#!/bin/bash
# pg_dumpall into the kubedb layout on a swift:// mount (both ways dumps are written), read back and
# restored into a fresh cluster; the dumps are large objects (SLOs; DLOs on RGW) whose segments go
# with rm -r.
# snapfs-servers: swift rgw
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/swift.sh"

start_swift
swift_mkcontainer snap
pg_start src
pg_fill 4
pg_dumpall >"$T_DIR/local.sql"

mount_snapfs swift://snap "$T_DIR/mnt" --secret-dir "$SWIFT_SECRET" --cache-dir "$T_DIR/cache" \
	--part-size 8M --cache-size 64M
DB=$T_DIR/mnt/kubedb/demo/pg

# 1. pg_dumpall > f: the pg_dump children share the descriptor
pg_dumpall >"$DB/snap1/dumpfile.sql"
check "pg_dumpall > f: the dump through the mount equals the local one" \
	cmp -s <(dump_clean "$T_DIR/local.sql") <(dump_clean "$DB/snap1/dumpfile.sql")
swift_token
swift_curl -o "$T_DIR/direct.sql" /snap/kubedb/demo/pg/snap1/dumpfile.sql
check "pg_dumpall > f: the object in Swift is the same bytes" \
	cmp -s "$T_DIR/direct.sql" "$DB/snap1/dumpfile.sql"
swift_curl -I -o "$T_DIR/dump.hdr" /snap/kubedb/demo/pg/snap1/dumpfile.sql
check "the dump is a large object, $SWIFT_LARGE (big enough for segments)" is_large_object "$T_DIR/dump.hdr"

# 2. pg_dumpall -f f: closes and reopens with O_APPEND for every database (append to a large object)
pg_dumpall -f "$DB/snap2/dumpfile.sql"
swift_curl -o "$T_DIR/direct2.sql" /snap/kubedb/demo/pg/snap2/dumpfile.sql
check "pg_dumpall -f f: every database is in the object in Swift" \
	cmp -s <(dump_clean "$T_DIR/local.sql") <(dump_clean "$T_DIR/direct2.sql")
check "ls shows both snapshots" bash -c "ls '$DB' | tr '\n' ' ' | grep -qx 'snap1 snap2 '"
segs_before=$(swift_count snap_segments)
check "segments are in the hidden segment container" test "$segs_before" -gt 2
check "the segment area is not in the listing" \
	test "$(ls -A "$T_DIR/mnt/kubedb/demo/pg/snap1")" = dumpfile.sql

# 3. restore from the mount into a fresh cluster
pg_stop
pg_start dst
psql -q -X -f "$DB/snap2/dumpfile.sql" postgres >"$T_DIR/restore.log" 2>&1
pg_dumpall >"$T_DIR/restored.sql"
check "restored cluster dumps the same as the source" \
	cmp -s <(dump_clean "$T_DIR/local.sql") <(dump_clean "$T_DIR/restored.sql")
check "row counts match after restore" \
	test "$(psql -tA -c 'select count(*) from pgbench_accounts' shop)" = 400000

# 4. rename keeps the data and the segments (the copy owns them now), rm -r takes them all
mv "$DB/snap1/dumpfile.sql" "$DB/snap1/renamed.sql"
check "rename: the new name has the dump" \
	cmp -s <(dump_clean "$T_DIR/local.sql") <(dump_clean "$DB/snap1/renamed.sql")
check "rename: the old name is gone" test ! -e "$DB/snap1/dumpfile.sql"
check "rename: no segment was lost or left over" test "$(swift_count snap_segments)" = "$segs_before"
rm -r "$DB/snap1" "$DB/snap2"
check "rm -r: the snapshots are gone" test -z "$(ls -A "$DB" 2>/dev/null)"
check "rm -r: no segments left" test "$(swift_count snap_segments)" = 0
check "rm -r: the container is empty" test "$(swift_count snap)" = 0

umount_snapfs "$T_DIR/mnt"
finish
