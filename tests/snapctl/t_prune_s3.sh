#!/bin/bash
# snapctl prune against S3 (s3rver), with a prefix in the SOURCE: the rules over KubeDB names of objects
# written by curl, the deletion through the store's batch delete, a neighbouring database untouched.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/s3.sh"
source "$SNAPFS_SRC/tests/snapctl/lib.sh"

start_s3rver
SRC=s3://kubedb/team-a
CRED=(--secret-dir "$S3_SECRET" --endpoint "$S3_ENDPOINT")
printf 'SELECT 1;\n' >"$T_DIR/d.sql"
for n in my-20241130-230000 my-20241201-010000 my-20241215-120000 my-20250101-000000 my-20250101-060000 \
	my-20250102-060000; do
	s3put "$T_DIR/d.sql" "kubedb/team-a/kubedb/demo/my/$n/dump.sql"
	s3put "$T_DIR/d.sql" "kubedb/team-a/kubedb/demo/my/$n/extra/notes.txt"
done
s3put "$T_DIR/d.sql" kubedb/team-a/kubedb/demo/my/archive/wal_005/000000010000000000000001
s3put "$T_DIR/d.sql" kubedb/team-a/kubedb/demo/my2/my2-20200101-000000/dump.sql

check "prune dry run -o json" sc prune "$SRC" demo/my --keep-daily 2 --keep-monthly 3 -o json "${CRED[@]}"
check "dry run: keep and delete by the rules" \
	json_eq '[(s["name"], s["action"], s["kept_by"]) for s in j]' \
	"[('my-20250102-060000', 'keep', ['daily', 'monthly']), ('my-20250101-060000', 'keep', ['daily']), ('my-20250101-000000', 'delete', []), ('my-20241215-120000', 'keep', ['monthly']), ('my-20241201-010000', 'delete', []), ('my-20241130-230000', 'keep', ['monthly'])]"
check "dry run: s3rver cannot list uploads: said" has "$T_DIR/err" 'cannot list uploads in progress'
check "prune --yes" sc prune "$SRC" demo/my --keep-daily 2 --keep-monthly 3 --yes "${CRED[@]}"
cat "$T_DIR/out" "$T_DIR/err"
check "after: the kept snapshots, whole" sc ls "$SRC" demo -o json "${CRED[@]}"
check "after: four of demo/my and demo/my2" json_eq '[(s["database"], s["name"], s["files"]) for s in j]' \
	"[('my', 'my-20241130-230000', 2), ('my', 'my-20241215-120000', 2), ('my', 'my-20250101-060000', 2), ('my', 'my-20250102-060000', 2), ('my2', 'my2-20200101-000000', 1)]"
check "after: no object of a deleted snapshot is left" \
	fails s3curl GET kubedb/team-a/kubedb/demo/my/my-20250101-000000/extra/notes.txt
check "after: the WAL archive is untouched" \
	s3get kubedb/team-a/kubedb/demo/my/archive/wal_005/000000010000000000000001 "$T_DIR/wal"
finish
