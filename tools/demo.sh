#!/usr/bin/env bash
# The demo: a throwaway PostgreSQL with some data, a file:// store mounted with snapfs, a pg_dumpall
# streamed into the KubeDB layout, the snapshot listed, restored into a fresh cluster and compared,
# then deleted with rm -r. Installs and builds what it needs first.
# Usage: tools/demo.sh [pgbench scale, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=${1:-10}

bash tools/deps.sh
echo "== build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 --target snapfs >/dev/null

export SNAPFS_SRC=$PWD SNAPFS_BUILD=$PWD/build SNAPFS=$PWD/build/snapfs
# the test library brings the throwaway cluster, the mount and a cleanup trap that unmounts
source tests/lib/common.sh
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
ms() { date +%s%N | cut -c1-13; }

say "a throwaway PostgreSQL with data (pgbench scale $SCALE and two more databases)"
pg_start source
pg_fill "$SCALE"
psql -X -c '\l+' postgres | sed -n '1,12p'

STORE=$T_DIR/bucket
MNT=$T_DIR/mnt
mkdir -p "$STORE"
say "mount: snapfs file://$STORE $MNT"
mount_snapfs "file://$STORE" "$MNT" --cache-dir "$T_DIR/cache"
SNAP=$MNT/kubedb/demo/script-postgres/instant-snapshot

say "pg_dumpall > $SNAP/dumpfile.sql"
t0=$(ms)
pg_dumpall >"$SNAP/dumpfile.sql"
t1=$(ms)
pg_dumpall >"$T_DIR/local-dump.sql"
t2=$(ms)
echo "through snapfs: $((t1 - t0)) ms; to local disk: $((t2 - t1)) ms ($(stat -c %s "$T_DIR/local-dump.sql") bytes)"

say "ls -l the database's snapshots, and the object in the store"
ls -l "$MNT/kubedb/demo/script-postgres"
ls -l "$SNAP"
find "$STORE" -path "$STORE/.snapfs" -prune -o -type f -printf '%P  %s bytes\n'

say "restore into a fresh cluster with psql -f from the mount"
pg_start restored
psql -q -X -f "$SNAP/dumpfile.sql" postgres >"$T_DIR/restore.log" 2>&1
for q in "shop:select count(*) from pgbench_accounts" "inventory:select count(*), sum(qty) from item" \
	"analytics:select count(*) from event"; do
	db=${q%%:*} sql=${q#*:}
	echo "$db: $sql -> $(psql -X -tA -c "$sql" "$db")"
done
pg_dumpall >"$T_DIR/restored-dump.sql"
if cmp -s <(dump_clean "$T_DIR/local-dump.sql") <(dump_clean "$T_DIR/restored-dump.sql"); then
	echo "the restored cluster dumps identically to the source (random \\restrict lines aside): data matches"
else
	echo "MISMATCH between the source and the restored cluster" >&2
	exit 1
fi

say "rm -r the snapshot: it is deleted from the store"
rm -r "$SNAP"
ls -la "$MNT/kubedb/demo/script-postgres"
left=$(find "$STORE/kubedb" -type f 2>/dev/null | wc -l)
echo "objects left in the store: $left"
[ "$left" -eq 0 ]
umount_snapfs "$MNT"
say "demo finished: dump, list, restore and delete all went through snapfs"
