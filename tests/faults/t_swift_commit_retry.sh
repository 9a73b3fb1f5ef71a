#!/bin/bash
# A refused SLO manifest PUT on Debian's Swift, through the fault proxy: the commit is tried again with
# backoff for --commit-retry seconds without deleting the segments in between (a later try commits
# the same segments); refused for longer, close() fails with EIO, no object, and the segments are
# deleted (Swift's failed commits are not kept for `snapctl retry` yet: that is S3 only).
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/swift.sh"
source "$SNAPFS_SRC/tests/faults/proxy.sh"

WINDOW=10
SNAPCTL=$SNAPFS_BUILD/snapctl
start_swift
swift_mkcontainer kubedb
swift_token
start_fault_proxy "$SWIFT_URL"
ACCOUNT=${SWIFT_STORAGE_URL#"$SWIFT_URL"}
FP_SECRET=$T_DIR/fp-secret
mkdir -p "$FP_SECRET"
printf '%s' "$FP_URL/auth/v1.0" >"$FP_SECRET/ST_AUTH"
cp "$SWIFT_SECRET/ST_USER" "$SWIFT_SECRET/ST_KEY" "$FP_SECRET/"
chmod 600 "$FP_SECRET"/*
MNT=$T_DIR/mnt
mount_snapfs swift://kubedb "$MNT" --secret-dir "$FP_SECRET" --endpoint "$FP_URL$ACCOUNT" \
	--cache-dir "$T_DIR/cache" --part-size 8M --retries 1 --timeout 10 --meta-ttl 1 --commit-retry "$WINDOW"
S=$MNT/kubedb/demo/pg/snap
KEY=kubedb/demo/pg/snap
mkdir -p "$S"
REFUSE='{"rules": [{"method": "PUT", "query": "multipart-manifest=put", "action": "status", "status": 503}]}'

# copy_checked SRC DST: every write and close() checked; prints "close ok" or "close ERRNO"
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
eventually_long() { for _ in $(seq 600); do "$@" && return 0; sleep 0.1; done; return 1; }
whole() { swift_curl -o "$T_DIR/$1.got" "/kubedb/$KEY/$1" && cmp -s "$T_DIR/$1" "$T_DIR/$1.got"; }
absent() { [ "$(swift_curl -o /dev/null -w '%{http_code}' -I "/kubedb/$KEY/$1")" = 404 ]; }

head -c 21000000 /dev/urandom >"$T_DIR/a.bin"
head -c 21000000 /dev/urandom >"$T_DIR/b.bin"

fp_rules "$REFUSE"
copy_checked "$T_DIR/a.bin" "$S/a.bin" >"$T_DIR/a.out" &
CP=$!
check "(a) the manifest is refused at least twice" eventually_long refused_twice
fp_reset
wait "$CP"
check "(a) close() succeeds once the store takes it" grep -qx "close ok" "$T_DIR/a.out"
check "(a) the object is whole, byte for byte" whole a.bin
check "(a) the log says it was tried again" grep -q "a.bin: completing the upload failed (.*): trying again" \
	"$T_DIR/snapfs-mnt.log"
check "(a) its 3 segments are all there is" test "$(swift_count kubedb_segments "$KEY/a.bin/")" -eq 3

fp_rules "$REFUSE"
start=$(date +%s%N)
copy_checked "$T_DIR/b.bin" "$S/b.bin" >"$T_DIR/b.out"
ms=$(elapsed_ms "$start")
fp_reset
log "(b) close() after ${ms} ms with --commit-retry $WINDOW: $(cat "$T_DIR/b.out")"
check "(b) close() fails with EIO" grep -qx "close EIO" "$T_DIR/b.out"
check "(b) not before the window ran out" test "$ms" -ge $((WINDOW * 1000))
check "(b) no object" absent b.bin
check "(b) no segment left" test "$(swift_count kubedb_segments "$KEY/b.bin/")" -eq 0
rc=0; "$SNAPCTL" wait "$S/b.bin" --max-wait 30 2>/dev/null || rc=$?
check "(b) snapctl wait exits 1 (got $rc)" test "$rc" -eq 1
finish
