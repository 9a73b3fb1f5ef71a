#!/bin/bash
# snapctl prune against S3 (Ceph RGW), with a prefix in the SOURCE: the rules over KubeDB names of objects
# written by curl, a dump in progress (RGW lists its multipart upload: kept, counted by no rule), the
# deletion through the store's batch delete, a neighbouring database and the WAL archive untouched.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/rgw.sh"
source "$SNAPFS_SRC/tests/snapctl/lib.sh"

start_rgw_s3 mem=256
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

# a dump in progress, the newest of all by name
mount_snapfs "$SRC" "$T_DIR/m" "${CRED[@]}" --cache-dir "$T_DIR/c" --meta-ttl 0
mkdir -p "$T_DIR/m/kubedb/demo/my/my-20250103-060000"
slow_writer "$T_DIR/m/kubedb/demo/my/my-20250103-060000/dump.sql" 12 "$T_DIR/go"
check "a dump in progress" wait_uploading "$T_DIR/m" kubedb/demo/my/my-20250103-060000/dump.sql

check "prune dry run -o json" sc prune "$SRC" demo/my --keep-daily 2 --keep-monthly 3 -o json "${CRED[@]}"
check "dry run: keep and delete by the rules" \
	json_eq '[(s["name"], s["action"], s["kept_by"]) for s in j]' \
	"[('my-20250103-060000', 'keep', ['upload in progress']), ('my-20250102-060000', 'keep', ['daily', 'monthly']), ('my-20250101-060000', 'keep', ['daily']), ('my-20250101-000000', 'delete', []), ('my-20241215-120000', 'keep', ['monthly']), ('my-20241201-010000', 'delete', []), ('my-20241130-230000', 'keep', ['monthly'])]"
check "dry run: RGW lists uploads: no note" bash -c "! grep -q 'cannot list uploads' '$T_DIR/err'"
check "prune --yes" sc prune "$SRC" demo/my --keep-daily 2 --keep-monthly 3 --yes "${CRED[@]}"
cat "$T_DIR/out" "$T_DIR/err"
check "after: the kept snapshots, whole" sc ls "$SRC" demo -o json "${CRED[@]}"
check "after: four of demo/my, the dump in progress and demo/my2" \
	json_eq '[(s["database"], s["name"], s["files"], s["status"]) for s in j]' \
	"[('my', 'my-20241130-230000', 2, 'Succeeded'), ('my', 'my-20241215-120000', 2, 'Succeeded'), ('my', 'my-20250101-060000', 2, 'Succeeded'), ('my', 'my-20250102-060000', 2, 'Succeeded'), ('my', 'my-20250103-060000', 0, 'Running'), ('my2', 'my2-20200101-000000', 1, 'Succeeded')]"
check "after: no object of a deleted snapshot is left" \
	fails s3curl GET kubedb/team-a/kubedb/demo/my/my-20250101-000000/extra/notes.txt
check "after: the WAL archive is untouched" \
	s3get kubedb/team-a/kubedb/demo/my/archive/wal_005/000000010000000000000001 "$T_DIR/wal"
touch "$T_DIR/go"
check "the dump finishes" wait "$WRITER"
check "the dump is whole" \
	bash -c "sha256sum <'$T_DIR/m/kubedb/demo/my/my-20250103-060000/dump.sql' | cut -d' ' -f1 | cmp -s - '$T_DIR/dump.sql.sha'"
umount_snapfs "$T_DIR/m"
finish
