#!/bin/bash
# A refused Put Block List on Azurite, through the fault proxy: the commit is tried again with backoff
# for --commit-retry seconds without aborting in between (the same uncommitted blocks are committed
# by a later try); refused for longer, close() fails with EIO, no blob, and the blocks are dropped
# (Azure's failed commits are not kept for `snapctl retry` yet: that is S3 only).
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/azure.sh"
source "$SNAPFS_SRC/tests/faults/proxy.sh"

WINDOW=10
SNAPCTL=$SNAPFS_BUILD/snapctl
start_azurite
start_fault_proxy "http://127.0.0.1:$AZ_PORT"
MNT=$T_DIR/mnt
mount_snapfs azure://kubedb "$MNT" --secret-dir "$AZ_SECRET" --endpoint "$FP_URL/$AZ_ACCOUNT" \
	--cache-dir "$T_DIR/cache" --part-size 8M --retries 1 --timeout 10 --meta-ttl 1 --commit-retry "$WINDOW"
S=$MNT/kubedb/demo/pg/snap
BLOB=kubedb/demo/pg/snap
mkdir -p "$S"
REFUSE='{"rules": [{"method": "PUT", "query": "comp=blocklist", "action": "status", "status": 503,
 "azure_code": "ServerBusy", "message": "The server is currently unable to receive requests."}]}'

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

head -c 21000000 /dev/urandom >"$T_DIR/a.bin"
head -c 21000000 /dev/urandom >"$T_DIR/b.bin"

fp_rules "$REFUSE"
copy_checked "$T_DIR/a.bin" "$S/a.bin" >"$T_DIR/a.out" &
CP=$!
check "(a) Put Block List is refused at least twice" eventually_long refused_twice
fp_reset
wait "$CP"
check "(a) close() succeeds once the store takes it" grep -qx "close ok" "$T_DIR/a.out"
whole() { azcli get kubedb "$BLOB/$1" "$T_DIR/$1.got" && cmp -s "$T_DIR/$1" "$T_DIR/$1.got"; }
check "(a) the blob is whole, byte for byte" whole a.bin
check "(a) the log says it was tried again" grep -q "a.bin: completing the upload failed (.*): trying again" \
	"$T_DIR/snapfs-mnt.log"
check "(a) no uncommitted blocks are left" test "$(azcli uncommitted kubedb "$BLOB/a.bin")" = 0

fp_rules "$REFUSE"
start=$(date +%s%N)
copy_checked "$T_DIR/b.bin" "$S/b.bin" >"$T_DIR/b.out"
ms=$(elapsed_ms "$start")
fp_reset
log "(b) close() after ${ms} ms with --commit-retry $WINDOW: $(cat "$T_DIR/b.out")"
check "(b) close() fails with EIO" grep -qx "close EIO" "$T_DIR/b.out"
check "(b) not before the window ran out" test "$ms" -ge $((WINDOW * 1000))
check "(b) no blob" test "$(azcli size kubedb "$BLOB/b.bin")" = missing
check "(b) no uncommitted blocks are left" test "$(azcli uncommitted kubedb "$BLOB/b.bin")" = 0
rc=0; "$SNAPCTL" wait "$S/b.bin" --max-wait 30 2>/dev/null || rc=$?
check "(b) snapctl wait exits 1 (got $rc)" test "$rc" -eq 1
finish
