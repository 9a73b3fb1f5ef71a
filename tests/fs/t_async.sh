#!/usr/bin/env bash
# --async-close against RGW behind the fault proxy: with every upload refused (the store held back),
# close still returns at once with the data safe in the cache dir, the files read back through the
# mount, the failing uploads keep their data (journal record and spool stay); after kill -9 the next
# mount with the same cache dir uploads them, byte for byte. A file over the async limit closes the
# synchronous way (stored when close returns); an unmount with files still waiting leaves them for
# the next mount, named in the log.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/rgw.sh"
source "$SNAPFS_SRC/tests/faults/proxy.sh"
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN

start_rgw_s3 mem=512
start_fault_proxy "$S3_ENDPOINT"

MNT=$T_DIR/mnt
KP=kubedb/demo/pg/async
SNAP=$MNT/$KP
# 64M of cache: files up to 32 MiB close asynchronously
OPTS=(--secret-dir "$S3_SECRET" --endpoint "$FP_URL" --cache-dir "$T_DIR/cache" --cache-size 64M --part-size 8M
	--timeout 2 --retries 1 --meta-ttl 1 --log-level debug)
# every upload request (PUT object/part, POST initiate/complete) answers 503: nothing gets stored
HOLD='[{"method": "PUT", "action": "status", "status": 503, "s3_code": "SlowDown"},
       {"method": "POST", "action": "status", "status": 503, "s3_code": "SlowDown"}]'

s3status() {
	curl -s -o /dev/null -w '%{http_code}' -I --aws-sigv4 aws:amz:us-east-1:s3 \
		--user "$S3_KEY_ID:$S3_KEY" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$S3_ENDPOINT/kubedb/$1"
}
stored() { [ "$(s3status "$1")" = 200 ]; }
not_stored() { [ "$(s3status "$1")" = 404 ]; }
# same_in_store KEY FILE: downloaded from RGW directly (not through snapfs), byte for byte
same_in_store() { rm -f "$T_DIR/got" && s3get "kubedb/$1" "$T_DIR/got" && cmp -s "$T_DIR/got" "$2"; }
records() { ls "$T_DIR"/cache/journal-*/ 2>/dev/null | grep -c "\.$1\$" || true; }
# timed_copy SRC DST: copy with python, print "CLOSE_MS TOTAL_MS" or "error ERRNO"
timed_copy() {
	python3 - "$1" "$2" <<'PY'
import errno, os, sys, time
t0 = time.monotonic()
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
try:
    with open(sys.argv[1], "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            os.write(fd, b)
    t1 = time.monotonic()
    os.close(fd)
except OSError as e:
    print("error", errno.errorcode[e.errno])
    sys.exit(0)
t2 = time.monotonic()
print(int((t2 - t1) * 1000), int((t2 - t0) * 1000))
PY
}
# wait_for SECONDS CMD...: poll until CMD succeeds
wait_for() {
	local n=$1; shift
	for _ in $(seq $((n * 10))); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

head -c 1M /dev/urandom >"$T_DIR/src1"
head -c 7M /dev/urandom >"$T_DIR/src2"
head -c 20M /dev/urandom >"$T_DIR/src3"
head -c 40M /dev/urandom >"$T_DIR/big"

# ---------- closed while the store refuses every upload, then kill -9 ----------
mount_snapfs s3://kubedb "$MNT" --async-close "${OPTS[@]}"
fp_rules "$HOLD"
cp "$T_DIR/src1" "$SNAP/f1.bin"
check "cp returned with the store held back" test $? -eq 0
dd if="$T_DIR/src2" of="$SNAP/f2.bin" bs=1M status=none
check "dd returned with the store held back" test $? -eq 0
read -r close_ms total_ms < <(timed_copy "$T_DIR/src3" "$SNAP/f3.bin")
log "20 MiB, store held back, --async-close: close took $close_ms ms (write + close $total_ms ms)"
check "close of 20 MiB returned at once (${close_ms} ms)" test "$close_ms" -lt 2000
for i in 1 2 3; do
	check "f$i.bin is not in the store yet" not_stored "$KP/f$i.bin"
done
check "f1.bin reads back through the mount" cmp -s "$T_DIR/src1" "$SNAP/f1.bin"
check "f2.bin reads back through the mount" cmp -s "$T_DIR/src2" "$SNAP/f2.bin"
check "f3.bin reads back through the mount" cmp -s "$T_DIR/src3" "$SNAP/f3.bin"
check "ls shows f3.bin with its size" test "$(stat -c %s "$SNAP/f3.bin")" -eq $((20 * 1024 * 1024))
check "status counts 3 closed files waiting" \
	python3 -c 'import json, sys; sys.exit(json.load(open(sys.argv[1]))["async_close"]["closed_waiting"] != 3)' \
	"$MNT/.snapfs/status"
# a persistent failure keeps the data: the background tries, fails, says so, and keeps record and spool
check "the failed upload is logged, naming the file" \
	wait_for 30 grep -q "f3.bin: upload after close failed.*safe in the cache dir" "$T_DIR/snapfs-mnt.log"
check "3 closed records in the journal" test "$(records cl)" -eq 3
check "3 spools in the journal" test "$(records spool)" -eq 3
sleep 3   # more failed attempts (backoff 1 s, 2 s): nothing may be dropped
check "still 3 records after retries" test "$(records cl)" -eq 3
check "still nothing in the store" not_stored "$KP/f3.bin"

kill -9 "$(cat "$T_DIR/snapfs-mnt.pid")"
fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT"
for i in 1 2 3; do
	check "after the crash: f$i.bin is not in the store" not_stored "$KP/f$i.bin"
done

# ---------- the store comes back: the remount uploads them ----------
fp_reset
mount_snapfs s3://kubedb "$MNT" --async-close "${OPTS[@]}"
check "the remount uploads all three within 60 s" \
	wait_for 60 bash -c "$(declare -f s3status stored); stored $KP/f1.bin && stored $KP/f2.bin && stored $KP/f3.bin"
check "f1.bin in the store is byte for byte the source" same_in_store "$KP/f1.bin" "$T_DIR/src1"
check "f2.bin in the store is byte for byte the source" same_in_store "$KP/f2.bin" "$T_DIR/src2"
check "f3.bin in the store is byte for byte the source" same_in_store "$KP/f3.bin" "$T_DIR/src3"
check "the log says it was closed before a restart" \
	wait_for 10 grep -q "uploaded /$KP/f3.bin, closed before a restart" "$T_DIR/snapfs-mnt.log"
check "the journal is empty afterwards" wait_for 10 bash -c "[ -z \"\$(ls $T_DIR/cache/journal-*/ | grep -v '^lock\$')\" ]"
check "no multipart upload is left open" no_open_uploads kubedb
check "f3.bin reads back through the mount from the store" cmp -s "$T_DIR/src3" "$SNAP/f3.bin"

# ---------- over the async limit (32 MiB here): a synchronous close ----------
read -r close_ms total_ms < <(timed_copy "$T_DIR/big" "$SNAP/big.bin")
log "40 MiB over the async limit: close took $close_ms ms (write + close $total_ms ms)"
check "the big file is stored when close returns" stored "$KP/big.bin"
check "... byte for byte" same_in_store "$KP/big.bin" "$T_DIR/big"
check "the log says it turned synchronous" grep -q "big.bin: larger than the asynchronous close limit" "$T_DIR/snapfs-mnt.log"
fp_rules "$HOLD"
out=$(timed_copy "$T_DIR/big" "$SNAP/big2.bin")
check "over the limit with the store held back: close reports EIO ($out)" test "$out" = "error EIO"
check "... and nothing was stored" not_stored "$KP/big2.bin"

# ---------- async close latency against a working store, and unmount with files still waiting ----------
fp_reset
read -r close_ms total_ms < <(timed_copy "$T_DIR/src3" "$SNAP/f5.bin")
log "20 MiB, working store, --async-close: close took $close_ms ms (write + close $total_ms ms)"
check "f5.bin is stored soon after" wait_for 30 stored "$KP/f5.bin"
fp_rules "$HOLD"
cp "$T_DIR/src2" "$SNAP/f4.bin"
umount_snapfs "$MNT"
check "unmount names the file it could not upload" grep -q "f4.bin: NOT uploaded yet: it stays in the cache dir" "$T_DIR/snapfs-mnt.log"
check "its record stays for the next mount" test "$(records cl)" -eq 1
check "f4.bin is not in the store" not_stored "$KP/f4.bin"
fp_reset
mount_snapfs s3://kubedb "$MNT" --async-close "${OPTS[@]}"
check "the next mount uploads f4.bin" wait_for 60 stored "$KP/f4.bin"
check "... byte for byte" same_in_store "$KP/f4.bin" "$T_DIR/src2"
check "the journal is empty again" wait_for 10 test "$(records cl)" -eq 0

# ---------- rename of a closed file still uploading: it waits for that upload, never races it ----------
# two tries of f8.bin fail (a try is 2 attempts with --retries 1): a mv during either one gets EIO
fp_rules '[{"method": "PUT", "action": "status", "status": 503, "s3_code": "SlowDown", "times": 4}]'
cp "$T_DIR/src1" "$SNAP/f8.bin"
check "mv while the upload fails: EIO, the file keeps its name" \
	bash -c "! mv '$SNAP/f8.bin' '$SNAP/f8-moved.bin' 2>/dev/null"
check "... and is stored under it at a later try" wait_for 30 stored "$KP/f8.bin"
check "... nothing under the new name" not_stored "$KP/f8-moved.bin"
# the first try of f9.bin fails; a mv in the backoff waits for the next try, then renames
fp_rules '[{"method": "PUT", "action": "status", "status": 503, "s3_code": "SlowDown", "times": 2}]'
cp "$T_DIR/src1" "$SNAP/f9.bin"
check "the first upload of f9.bin fails" wait_for 10 grep -q "f9.bin: upload after close failed" "$T_DIR/snapfs-mnt.log"
check "mv of f9.bin succeeds" mv "$SNAP/f9.bin" "$SNAP/f9-moved.bin"
check "... the new name is stored, byte for byte" same_in_store "$KP/f9-moved.bin" "$T_DIR/src1"
sleep 3
check "... and the old name's upload never lands after the rename" not_stored "$KP/f9.bin"
fp_reset
umount_snapfs "$MNT"

# ---------- without --async-close: close waits for the store, as before ----------
mount_snapfs s3://kubedb "$MNT" "${OPTS[@]}"
read -r close_ms total_ms < <(timed_copy "$T_DIR/src3" "$SNAP/f6.bin")
log "20 MiB, working store, synchronous close: close took $close_ms ms (write + close $total_ms ms)"
check "sync: stored when close returns" same_in_store "$KP/f6.bin" "$T_DIR/src3"
fp_rules "$HOLD"
out=$(timed_copy "$T_DIR/src3" "$SNAP/f7.bin")
check "sync with the store held back: the error reaches close or write ($out)" test "$out" = "error EIO"
check "sync: nothing is recorded in the journal" test "$(records cl)" -eq 0
fp_reset
umount_snapfs "$MNT"
finish
