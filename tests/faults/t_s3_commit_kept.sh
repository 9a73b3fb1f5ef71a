#!/bin/bash
# A refused final commit (CompleteMultipartUpload) on Ceph RGW, through the fault proxy:
# (a) refused for less than --commit-retry: close() succeeds and the object is whole;
# (b) refused for longer: close() fails with EIO, no object, `snapctl wait` exits 1, the upload stays
#     open in the store and its record is kept (status, snapctl failed); with the proxy healthy again
#     `snapctl retry` (the mount still running) publishes it byte for byte, `snapctl discard` leaves no
#     object and no upload; a file stored again after its commit failed is not replaced by a retry;
# (c) a failed commit left by a mount that stopped survives the next mount (kept, not discarded as a
#     crashed upload is) and `snapctl retry` stores it with no mount running.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/rgw.sh"
source "$SNAPFS_SRC/tests/faults/proxy.sh"
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN

WINDOW=15
start_rgw mem=320
rgw_mkbucket kubedb
start_fault_proxy "$S3_ENDPOINT"

MNT=$T_DIR/mnt
CACHE=$T_DIR/cache
OPTS=(--secret-dir "$S3_SECRET" --endpoint "$FP_URL" --cache-dir "$CACHE" --retries 1 --timeout 10
      --meta-ttl 1 --commit-retry "$WINDOW" --log-level info)
mount_snapfs s3://kubedb "$MNT" "${OPTS[@]}"
S=$MNT/kubedb/demo/pg/snap
mkdir -p "$S"
REFUSE='{"rules": [{"method": "POST", "query": "uploadId=", "action": "status", "status": 503, "s3_code": "SlowDown"}]}'
SNAPCTL=$SNAPFS_BUILD/snapctl
# sc COMMAND ARGS...: snapctl with the store reached directly (the proxy may be refusing)
sc() { local cmd=$1; shift; "$SNAPCTL" "$cmd" "$@" --secret-dir "$S3_SECRET" --endpoint "$S3_ENDPOINT" --cache-dir "$CACHE"; }

# copy_checked SRC DST: copy with every write and close() checked; prints "close ok" or "close ERRNO"
copy_checked() {
	python3 - "$1" "$2" <<'PY'
import errno, os, sys
src = open(sys.argv[1], "rb").read()
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
for i in range(0, len(src), 1 << 20):
    os.write(fd, src[i:i + (1 << 20)])
try:
    os.close(fd)
    print("close ok")
except OSError as e:
    print("close " + errno.errorcode[e.errno])
PY
}
refused_twice() { [ "$(fp_get 'sum(r["injected"] for r in s["rules"])')" -ge 2 ]; }
# within 60 s (a loaded machine)
eventually_long() { for _ in $(seq 600); do "$@" && return 0; sleep 0.1; done; return 1; }
# whole NAME: the object NAME in the store (read directly) is T_DIR/NAME byte for byte
whole() { s3get "kubedb/$K/$1" "$T_DIR/$1.got" && cmp -s "$T_DIR/$1" "$T_DIR/$1.got"; }
no_upload() { ! rgw_uploads kubedb "$1" | grep -q .; }
not_listed() { ! ls "$S" | grep -qxE "$1"; }
kept_in_status() {
	python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
f = [x for x in d["failed_commits"] if x["path"].endswith("/b.bin")]
assert f and "refused the commit" in f[0]["reason"], d["failed_commits"]' "$MNT/.snapfs/status"
}
absent() { [ "$(s3curl HEAD "kubedb/$1" -o /dev/null -w '%{http_code}' 2>/dev/null)" = 404 ]; }
upload_open() { rgw_uploads kubedb "$1" | grep -q "^$1 "; }
K=kubedb/demo/pg/snap

for f in a b c d; do head -c 21000000 /dev/urandom >"$T_DIR/$f.bin"; done

# ---------- (a) refused for a while, less than the window ----------
fp_rules "$REFUSE"
copy_checked "$T_DIR/a.bin" "$S/a.bin" >"$T_DIR/a.out" &
CP=$!
check "(a) the commit is refused at least twice" eventually_long refused_twice
fp_reset
wait "$CP"
check "(a) close() succeeds once the store takes the commit" grep -qx "close ok" "$T_DIR/a.out"
check "(a) the object is whole, byte for byte" whole a.bin
check "(a) the log says it was tried again" grep -q "a.bin: completing the upload failed (.*): trying again" "$T_DIR/snapfs-mnt.log"
check "(a) snapctl wait exits 0" "$SNAPCTL" wait "$S/a.bin" --max-wait 30

# ---------- (b) refused for longer than the window ----------
fp_rules "$REFUSE"
start=$(date +%s%N)
copy_checked "$T_DIR/b.bin" "$S/b.bin" >"$T_DIR/b.out"
ms=$(elapsed_ms "$start")
log "(b) close() failed after ${ms} ms with --commit-retry $WINDOW: $(cat "$T_DIR/b.out")"
check "(b) close() fails with EIO" grep -qx "close EIO" "$T_DIR/b.out"
check "(b) not before the window ran out" test "$ms" -ge $((WINDOW * 1000))
check "(b) no object in the store" absent "$K/b.bin"
rc=0; "$SNAPCTL" wait "$S/b.bin" --max-wait 30 >"$T_DIR/wait.out" 2>&1 || rc=$?
check "(b) snapctl wait exits 1 (got $rc)" test "$rc" -eq 1
check "(b) and says it is kept" grep -q "kept" "$T_DIR/wait.out"
check "(b) its multipart upload stays open in the store" upload_open "$K/b.bin"
check "(b) .snapfs/status lists it under failed_commits with the reason" kept_in_status
check "(b) snapctl status shows it" bash -c "'$SNAPCTL' status '$MNT' | grep -q 'NOT stored, upload kept: .*b.bin'"
check "(b) snapctl failed lists it" bash -c "'$SNAPCTL' failed s3://kubedb --cache-dir '$CACHE' | grep -q 'b.bin'"
copy_checked "$T_DIR/c.bin" "$S/c.bin" >"$T_DIR/c.out"
check "(b) a second refused file: close() EIO" grep -qx "close EIO" "$T_DIR/c.out"
check "(b) ls shows what the store holds: neither file" eventually not_listed '(b|c)\.bin'

fp_reset
start=$(date +%s%N)
check "(b) snapctl retry stores it (mount running)" sc retry s3://kubedb /kubedb/demo/pg/snap/b.bin
log "(b) snapctl retry took $(elapsed_ms "$start") ms"
check "(b) the object is whole, byte for byte" whole b.bin
check "(b) the mount shows it" eventually bash -c "cmp -s '$T_DIR/b.bin' '$S/b.bin'"
check "(b) its record is gone" bash -c "! '$SNAPCTL' failed s3://kubedb --cache-dir '$CACHE' | grep -q b.bin"
check "(b) snapctl discard drops the other" sc discard s3://kubedb kubedb/demo/pg/snap/c.bin
check "(b) no object" absent "$K/c.bin"
check "(b) no upload left" no_upload "$K/c.bin"
rc=0; sc retry s3://kubedb /kubedb/demo/pg/snap/c.bin 2>/dev/null || rc=$?
check "(b) a second retry of a discarded file finds nothing (exit $rc)" test "$rc" -ne 0

# ---------- a file stored again after its commit failed is not replaced by the kept upload ----------
head -c 21000000 /dev/urandom >"$T_DIR/e.bin"
head -c 7000000 /dev/urandom >"$T_DIR/e2.bin"
fp_rules "$REFUSE"
copy_checked "$T_DIR/e.bin" "$S/e.bin" >"$T_DIR/e.out"
check "(b) e.bin: close() EIO, kept" grep -qx "close EIO" "$T_DIR/e.out"
fp_reset
check "(b) e.bin written again: stored" cp "$T_DIR/e2.bin" "$S/e.bin"
rc=0; sc retry s3://kubedb /kubedb/demo/pg/snap/e.bin 2>"$T_DIR/e.err" || rc=$?
check "(b) snapctl retry refuses to bring the older data back (exit $rc)" test "$rc" -eq 1
check "(b) and says why" grep -q "written after this commit failed" "$T_DIR/e.err"
cp "$T_DIR/e2.bin" "$T_DIR/e.bin"
check "(b) the newer object stays" whole e.bin
check "(b) snapctl discard drops the kept upload" sc discard s3://kubedb /kubedb/demo/pg/snap/e.bin
check "(b) no upload left" no_upload "$K/e.bin"
check "(b) and the newer object still stays" whole e.bin

# ---------- (c) left by a mount that stopped ----------
fp_rules "$REFUSE"
copy_checked "$T_DIR/d.bin" "$S/d.bin" >"$T_DIR/d.out"
check "(c) close() EIO" grep -qx "close EIO" "$T_DIR/d.out"
fp_reset
umount_snapfs "$MNT"
mount_snapfs s3://kubedb "$MNT" "${OPTS[@]}"
check "(c) the next mount keeps it and says so" \
	grep -q "kept the failed commit of /kubedb/demo/pg/snap/d.bin" "$T_DIR/snapfs-mnt.log"
check "(c) its upload is still open" upload_open "$K/d.bin"
umount_snapfs "$MNT"
check "(c) snapctl retry stores it with no mount running" sc retry s3://kubedb --all
check "(c) the object is whole, byte for byte" whole d.bin
check "(c) nothing is kept any more" bash -c "'$SNAPCTL' failed --cache-dir '$CACHE' | grep -q 'no failed commit'"
check "no multipart upload left open" no_open_uploads kubedb
finish
