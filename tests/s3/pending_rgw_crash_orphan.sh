#!/bin/bash
# NOT REGISTERED YET (not named t_*.sh): it fails today. After a daemon killed (kill -9) in the middle of
# a multipart upload and a remount on the same cache, ListMultipartUploads on RGW still shows the killed
# upload (an orphan whose parts the store keeps and bills). The crash-recovery work (the journal) is to
# abort it at the remount; rename this file to t_rgw_crash_orphan.sh when it passes.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/rgw.sh"
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN

start_rgw_s3 mem=256
MNT=$T_DIR/mnt
OPTS=(--secret-dir "$S3_SECRET" --endpoint "$S3_ENDPOINT" --cache-dir "$T_DIR/cache")

# ---------- kill -9 during a multipart upload, remount: no orphan upload on the server ----------
mount_snapfs s3://kubedb "$MNT" "${OPTS[@]}" --part-size 5M
PID=$(cat "$T_DIR/snapfs-mnt.pid")
F=$MNT/kubedb/demo/pg/crash/dumpfile.sql
mkdir -p "$(dirname "$F")"
# 20 MiB, then the writer waits (until it is killed below): the upload is open with parts sent
python3 - "$F" <<'PY' &
import os, sys, time
with open(sys.argv[1], "wb") as f:
    f.write(os.urandom(20 << 20))
    f.flush()
    time.sleep(600)
PY
W=$!
T_PIDS+=("$W")
open_with_parts() { [ -n "$(rgw_uploads kubedb kubedb/demo/pg/crash/)" ]; }
check "an upload is open on the server before the crash" eventually open_with_parts
kill -9 "$PID"
kill "$W" 2>/dev/null || true
wait "$W" 2>/dev/null || true
fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT" 2>/dev/null || true
mount_snapfs s3://kubedb "$MNT" "${OPTS[@]}" --part-size 5M
no_orphan() { no_open_uploads kubedb 2>/dev/null; }
check "after the remount ListMultipartUploads shows no orphan upload" eventually no_orphan
rgw_uploads kubedb >&2 || true
check "and no object was published for the killed write" \
	bash -c "! s3curl HEAD kubedb/kubedb/demo/pg/crash/dumpfile.sql -I >/dev/null 2>&1"
umount_snapfs "$MNT"
finish
