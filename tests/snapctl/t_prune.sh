#!/bin/bash
# snapctl prune against a file:// store: restic's keep rules over KubeDB names spread across months, a
# snapshot named otherwise (its objects' time), a dump in progress (never deleted, counted by no rule),
# the WAL archive (never touched); a dry run by default, deletion only with --yes.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/snapctl/lib.sh"

VOL=$T_DIR/vol
SRC=file://$VOL
DB=$VOL/kubedb/demo/pg
mkdir -p "$DB"
# KubeDB's {db}-YYYYMMDD-HHMMSS (UTC): ISO weeks W01, W03, W05, W05, W07, W09 x3, W10 x2
NAMES="pg-20250105-020000 pg-20250115-020000 pg-20250130-020000 pg-20250201-020000 pg-20250214-020000
pg-20250301-010000 pg-20250301-230000 pg-20250302-020000 pg-20250303-020000 pg-20250304-020000"
for n in $NAMES; do
	mkdir -p "$DB/$n"
	echo "dump $n" >"$DB/$n/dumpfile.sql"
done
# named by hand: its time is its newest object's
mkdir -p "$DB/manual-before-upgrade"
echo "dump" >"$DB/manual-before-upgrade/dumpfile.sql"
touch -d 2024-12-20T10:00:00Z "$DB/manual-before-upgrade/dumpfile.sql"
# a name that looks like KubeDB's but is no date: its objects' time too
mkdir -p "$DB/pg-20250231-020000"
echo "dump" >"$DB/pg-20250231-020000/dumpfile.sql"
touch -d 2024-11-02T10:00:00Z "$DB/pg-20250231-020000/dumpfile.sql"
mkdir -p "$DB/archive/wal_005"
echo wal >"$DB/archive/wal_005/000000010000000000000001"
touch -d 2020-01-01T00:00:00Z "$DB/archive/wal_005/000000010000000000000001"

# a dump in progress, the newest of all by name (its folder shows in the volume once the file is stored)
MNT=$T_DIR/mnt
mount_snapfs "$SRC" "$MNT" --cache-dir "$T_DIR/cache" --part-size 1M --meta-ttl 0
mkdir -p "$MNT/kubedb/demo/pg/pg-20250310-020000"
slow_writer "$MNT/kubedb/demo/pg/pg-20250310-020000/dumpfile.sql" 4 "$T_DIR/go"
check "a dump in progress" wait_uploading "$MNT" kubedb/demo/pg/pg-20250310-020000/dumpfile.sql

RULES=(--keep-last 2 --keep-daily 3 --keep-weekly 2 --keep-monthly 3)
check "prune (dry run)" sc prune "$SRC" demo/pg "${RULES[@]}"
cat "$T_DIR/out" "$T_DIR/err"
act() { awk -v n="$1" '$2 == n {print $1}' "$T_DIR/out"; }
why() { awk -v n="$1" '$2 == n' "$T_DIR/out" | sed -E 's/.*(name|objects) +//'; }
check "header" has "$T_DIR/out" '^ACTION +SNAPSHOT +TIME +FROM +KEPT-BY$'
check "newest by name: last, daily, weekly, monthly" test "$(why pg-20250304-020000)" = "last, daily, weekly, monthly"
check "second newest: last, daily (same ISO week)" test "$(why pg-20250303-020000)" = "last, daily"
check "03-02: daily, weekly (W09)" test "$(why pg-20250302-020000)" = "daily, weekly"
check "02-14: the newest of February: monthly" test "$(why pg-20250214-020000)" = "monthly"
check "01-30: the newest of January: monthly" test "$(why pg-20250130-020000)" = "monthly"
for n in pg-20250301-230000 pg-20250301-010000 pg-20250201-020000 pg-20250115-020000 pg-20250105-020000 \
	manual-before-upgrade pg-20250231-020000; do
	check "$n: delete" test "$(act "$n")" = delete
done
check "the dump in progress: kept, counted by no rule" test "$(why pg-20250310-020000)" = "upload in progress"
check "time from the name, UTC" has "$T_DIR/out" '^keep +pg-20250304-020000 +2025-03-04T02:00:00Z +name '
check "time from the objects" has "$T_DIR/out" '^delete +manual-before-upgrade +2024-12-20T10:00:00Z +objects '
check "no date in the name: time from the objects" has "$T_DIR/out" '^delete +pg-20250231-020000 +2024-11-02T10:00:00Z +objects '
check "the WAL archive is no snapshot" bash -c "! grep -q archive '$T_DIR/out'"
check "dry run: says so" has "$T_DIR/err" '^demo/pg: 6 to keep, 7 to delete; nothing deleted \(dry run: --yes deletes\)$'
check "dry run: nothing deleted" test "$(ls "$DB" | wc -l)" = 13

check "prune --keep-monthly 6 -o json" sc prune "$SRC" demo/pg --keep-monthly 6 -o json
check "monthly: the newest of each month, 2024-11 from the objects" \
	json_eq '[(s["name"], s["time_from"]) for s in j if "monthly" in s["kept_by"]]' \
	"[('pg-20250304-020000', 'name'), ('pg-20250214-020000', 'name'), ('pg-20250130-020000', 'name'), ('manual-before-upgrade', 'objects'), ('pg-20250231-020000', 'objects')]"
check "--dry-run wins over --yes" sc prune "$SRC" demo/pg "${RULES[@]}" --yes --dry-run
check "--dry-run --yes: nothing deleted" test "$(ls "$DB" | wc -l)" = 13
check "no rule: refused" fails "$SNAPCTL" prune "$SRC" demo/pg --yes
check "no rule: one line" one_line "$T_DIR/err"
check "no rule: nothing deleted" test "$(ls "$DB" | wc -l)" = 13
check "a negative count: refused" fails "$SNAPCTL" prune "$SRC" demo/pg --keep-last -1
check "a snapshot ref: refused" fails "$SNAPCTL" prune "$SRC" demo/pg/x --keep-last 1

check "prune --yes" sc prune "$SRC" demo/pg "${RULES[@]}" --yes
cat "$T_DIR/out" "$T_DIR/err"
check "--yes: reports each deletion" test "$(grep -c '^deleted demo/pg/' "$T_DIR/out")" = 7
check "--yes: summary" has "$T_DIR/err" '^demo/pg: kept 6, deleted 7$'
check "--yes: what is left" test "$(ls "$DB" | tr '\n' ' ')" = \
	"archive pg-20250130-020000 pg-20250214-020000 pg-20250302-020000 pg-20250303-020000 pg-20250304-020000 "
check "--yes: the WAL archive is untouched" test -f "$DB/archive/wal_005/000000010000000000000001"
touch "$T_DIR/go"
check "the dump finishes" wait "$WRITER"
check "the dump in progress was not touched" \
	bash -c "sha256sum <'$MNT/kubedb/demo/pg/pg-20250310-020000/dumpfile.sql' | cut -d' ' -f1 | cmp -s - '$T_DIR/dumpfile.sql.sha'"
check "prune again: now the dump counts" sc prune "$SRC" demo/pg --keep-last 1 --yes
check "keep-last 1: only the newest is left" test "$(ls "$DB" | tr '\n' ' ')" = "archive pg-20250310-020000 "
umount_snapfs "$MNT"
finish
