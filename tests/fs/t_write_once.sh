#!/usr/bin/env bash
# Write-once snapshots (--write-once, -o write_once) on file:// and S3 (s3rver):
# - a committed object is never replaced, truncated, appended to or renamed over (EPERM, one log line
#   each), and stays whole; new files in the snapshot are written as ever; rm still works;
# - --no-delete refuses rm, rmdir and mv;
# - file:// honours the conditional create: of two mounts racing for one new name exactly one wins, the
#   other's close fails and the store holds the winner's bytes;
# - s3rver ignores If-None-Match: the mount says it falls back to a check at open, which still refuses
#   replacing a committed object.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/s3.sh"

source "$SNAPFS_SRC/tests/lib/write_once.sh"

# ---------- file:// ----------
STORE=$T_DIR/store
mkdir -p "$STORE"
mount_snapfs "file://$STORE" "$T_DIR/m1" --cache-dir "$T_DIR/c1" --meta-ttl 0 --write-once
LOG1=$T_DIR/snapfs-m1.log
check "file://: the conditional create is in use" \
	grep -q "write-once: committed objects are never replaced; the store's conditional create" "$LOG1"
check "file://: the probe leaves nothing behind" test -z "$(ls -A "$STORE" | grep -v '^\.snapfs$')"
write_once_suite "$T_DIR/m1" "$LOG1"

# two mounts race for one new name: both open it (neither sees it yet), the first close wins
mount_snapfs "file://$STORE" "$T_DIR/m2" --cache-dir "$T_DIR/c2" --meta-ttl 0 -o write_once
mkdir -p "$T_DIR/m1/kubedb/demo/pg/race"
check "the race: one close wins, the other fails" wo_race "$T_DIR/m1/kubedb/demo/pg/race/dump.sql" \
	"$T_DIR/m2/kubedb/demo/pg/race/dump.sql" 100000
check "the race: the store holds the winner's bytes" \
	test "$(tr -d A <"$STORE/kubedb/demo/pg/race/dump.sql" | wc -c)" = 0
check "the race: the loser's log says NOT stored" eventually grep -q 'race/dump.sql' "$T_DIR/snapfs-m2.log"
umount_snapfs "$T_DIR/m2"
umount_snapfs "$T_DIR/m1"

# --no-delete
mkdir -p "$STORE/kubedb/demo/pg/snap2"
echo keep >"$STORE/kubedb/demo/pg/snap2/dump.sql"
mount_snapfs "file://$STORE" "$T_DIR/m3" --cache-dir "$T_DIR/c3" --meta-ttl 0 --write-once --no-delete
K3=$T_DIR/m3/kubedb/demo/pg
check "--no-delete: rm is refused" refused rm "$K3/snap2/dump.sql"
check "--no-delete: rm -r is refused" refused rm -r "$K3/snap2"
check "--no-delete: mv is refused" refused mv "$K3/snap2/dump.sql" "$K3/snap2/moved.sql"
check "--no-delete: the file stays" test "$(cat "$STORE/kubedb/demo/pg/snap2/dump.sql")" = keep
check "--no-delete: new files are still written" bash -c "echo new >'$K3/snap2/new.sql'"
check "--no-delete: the log says why" grep -q 'no-delete: unlink /kubedb/demo/pg/snap2/dump.sql refused: this mount removes nothing' "$T_DIR/snapfs-m3.log"
umount_snapfs "$T_DIR/m3"

# without --write-once nothing changes
mount_snapfs "file://$STORE" "$T_DIR/m4" --cache-dir "$T_DIR/c4" --meta-ttl 0
check "without --write-once a file is replaced" bash -c "echo v2 >'$T_DIR/m4/kubedb/demo/pg/snap2/dump.sql'"
check "without --write-once: the new bytes" test "$(cat "$STORE/kubedb/demo/pg/snap2/dump.sql")" = v2
umount_snapfs "$T_DIR/m4"

# ---------- S3 (s3rver: no conditional create) ----------
start_s3rver
mount_snapfs s3://kubedb/team-a "$T_DIR/m5" --secret-dir "$S3_SECRET" --endpoint "$S3_ENDPOINT" \
	--cache-dir "$T_DIR/c5" --meta-ttl 0 --write-once
LOG5=$T_DIR/snapfs-m5.log
check "s3rver: the mount says it falls back to a check at open" \
	grep -q 'write-once: the s3 store does not honour a conditional create' "$LOG5"
probe_gone() { local l; l=$(s3curl GET 'kubedb?list-type=2') && ! grep -q write-once-probe <<<"$l"; }
check "s3rver: the probe object is gone" probe_gone
write_once_suite "$T_DIR/m5" "$LOG5"
umount_snapfs "$T_DIR/m5"
finish
