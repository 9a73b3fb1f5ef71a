#!/usr/bin/env bash
# Whole or absent on S3 (Ceph RGW): rm while the opener's close is committing, a killed writer leaves
# no object and no open multipart upload, and `: > f; echo x >> f` keeps the append.
source "$(dirname "$0")/../lib/common.sh"
source "$SNAPFS_SRC/tests/lib/rgw.sh"
source "$SNAPFS_SRC/tests/lib/writer.sh"

start_rgw mem=1024
rgw_mkbucket kubedb
MNT=$T_DIR/mnt
mount_snapfs s3://kubedb "$MNT" --secret-dir "$S3_SECRET" --endpoint "$S3_ENDPOINT" --cache-dir "$T_DIR/cache"
D=$MNT/kubedb/demo/pg/snap1
K=kubedb/kubedb/demo/pg/snap1
in_bucket() { s3keys kubedb kubedb/demo/pg/snap1/ | grep -qx "kubedb/demo/pg/snap1/$1"; }
not_in_bucket() { ! in_bucket "$1"; }

# --- rm while the close commits: the delete wins, whichever comes first
hit=0
for round in 1 2 3; do
	head -c 200M /dev/urandom >"$T_DIR/src.bin"
	dd if="$T_DIR/src.bin" of="$D/dumpfile.sql" bs=1M status=none &
	DD=$!
	for _ in $(seq 3000); do
		grep -q '"state": "committing"' "$MNT/.snapfs/status" 2>/dev/null && { hit=$((hit + 1)); break; }
		kill -0 "$DD" 2>/dev/null || break
		sleep 0.01
	done
	rm -f "$D/dumpfile.sql"
	wait "$DD" || true
	check "round $round: rm during the commit: gone from the mount" test ! -e "$D/dumpfile.sql"
	check "round $round: rm during the commit: gone from the bucket" eventually not_in_bucket dumpfile.sql
	check "round $round: no multipart upload left" no_open_uploads kubedb
done
log "rm arrived while the commit was in flight in $hit of 3 rounds"
rm -f "$T_DIR/src.bin"

# --- a killed writer: no object, no open upload
echo v1 >"$D/killed.bin"
w_start k "$D/killed.bin" trunc
w_do k write 30000000
w_kill k KILL
check "killed writer: the previous version stays" eventually test "$(s3curl GET "$K/killed.bin")" = v1
check "killed writer: no multipart upload left" eventually no_open_uploads kubedb
check "killed writer: the log says why" eventually grep -q "killed.bin: NOT stored: its writer (pid [0-9]*) was killed by signal 9" "$T_DIR/snapfs-mnt.log"

# --- truncate then append at once
lost=0
for i in $(seq 8); do
	head -c 6000 /dev/zero | tr '\0' o >"$D/log.txt"
	: >"$D/log.txt"
	echo "more $i" >>"$D/log.txt"
	eventually test "$(s3curl GET "$K/log.txt")" = "more $i" || lost=$((lost + 1))
done
check "': > f; echo x >> f' on S3: the append is kept (8 rounds)" test "$lost" -eq 0
finish
