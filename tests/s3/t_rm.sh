#!/bin/bash
# Deletes through an s3:// mount go through the delete queue (unlink returns at once, DeleteObjects of
# up to 1,000 keys in the background), checked against RGW behind the fault proxy:
# - rm -r of a snapshot of 1,200 objects leaves none in the bucket when rm returns, in a few
#   DeleteObjects (not one DELETE per file), listing the folder once though rm reads it twice, and a
#   neighbour with a longer name stays;
# - a file whose delete is still queued (the DELETE held back by the proxy) is gone from the mount
#   (stat, ls) while the bucket still has it; a new file of that name (rm f; echo new > f) and a rename
#   onto it wait for the delete and are never deleted by it;
# - a DeleteObjects whose reply is lost after RGW deleted the keys is sent again: success;
# - deletes that keep failing (500 on every DeleteObjects and DELETE): rm -r fails (EIO), the log names
#   the keys, the objects show again through the mount, and a later rm -r deletes them;
# - a delete still queued at unmount is done before the daemon exits.
# The bucket is checked with curl straight at RGW, not through the proxy or snapfs.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/rgw.sh"
source "$SNAPFS_SRC/tests/faults/proxy.sh"
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN

start_rgw_s3 mem=256
start_fault_proxy "$S3_ENDPOINT"
MNT=$T_DIR/mnt
# --retries 2: a delete that keeps failing is given up within a few seconds
mount_snapfs s3://kubedb "$MNT" --secret-dir "$S3_SECRET" --endpoint "$FP_URL" --cache-dir "$T_DIR/cache" \
	--meta-ttl 1 --retries 2
LOG=$T_DIR/snapfs-mnt.log
DB=$MNT/kubedb/demo/pg
P=kubedb/demo/pg

put_many() {   # put_many PREFIX COUNT: small objects straight into RGW
	AWS_ACCESS_KEY_ID=$S3_KEY_ID AWS_SECRET_ACCESS_KEY=$S3_KEY \
		python3 "$SNAPFS_SRC/tools/bench_put.py" "$S3_ENDPOINT" kubedb "$1" "$2" 100 8
}
count() { s3keys kubedb "$1" | wc -l; }
s3head() {
	curl -s -o /dev/null -w '%{http_code}' -I --aws-sigv4 aws:amz:us-east-1:s3 \
		--user "$S3_KEY_ID:$S3_KEY" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$S3_ENDPOINT/kubedb/$1"
}
holds() { s3get "kubedb/$1" "$T_DIR/got" && test "$(cat "$T_DIR/got")" = "$2"; }   # holds KEY CONTENT
# delete_landed KEY: wait (60 s at most) until a DELETE of KEY went through the proxy to RGW
delete_landed() {
	for _ in $(seq 600); do
		grep -qE "^DELETE /kubedb/$1 2[0-9][0-9]\$" "$FP_JOURNAL" && return 0
		sleep 0.1
	done
	return 1
}
# listings PREFIX: delimited listings of PREFIX sent (first pages only)
listings() { grep -cE "^GET /kubedb\?list-type=2&max-keys=1000&prefix=$(urlq "$1")&delimiter=%2F [0-9]+\$" "$FP_JOURNAL" || true; }
deletes_sent() { grep -cE '^(POST [^ ]*\?delete|DELETE) ' "$FP_JOURNAL" || true; }

# ---------- rm -r of 1,200 objects ----------
put_many "$P/snap1/" 1100
put_many "$P/snap1/sub/" 100
put_many "$P/snap10/" 5
check "the bucket holds 1,200 objects below snap1/" test "$(count "$P/snap1/")" = 1200
before=$(deletes_sent)
lists_before=$(listings "$P/snap1/")
check "rm -r of the snapshot" rm -r "$DB/snap1"
# rm reads the folder twice (is it empty? then its entries), rmdir checks it is empty
check "rm -r listed snap1/ twice, not three times (its second reader got the kept listing)" \
	test "$(($(listings "$P/snap1/") - lists_before))" = 2
check "right after rm -r, no object is left below snap1/ in the bucket" test "$(count "$P/snap1/")" = 0
sent=$(($(deletes_sent) - before))
log "rm -r of 1,200 objects sent $sent delete requests"
check "the deletes went in batches (DeleteObjects), not one request per file" test "$sent" -le 300
check "the neighbour snap10 keeps its 5 objects" test "$(count "$P/snap10/")" = 5
check "snap1 is gone from the listing" bash -c "! ls '$DB' | grep -qx snap1"

# ---------- a queued delete hides the file; a new file of the same name waits for it ----------
mkdir -p "$DB/snap2"
echo old >"$DB/snap2/f"
echo a-content >"$DB/snap2/a"
echo b-old >"$DB/snap2/b"
# the proxy holds back the next lone DELETE for 5 s (then drops it: snapfs sends it again)
fp_rules '[{"method": "DELETE", "path": "/snap2/f$", "times": 1, "action": "stall", "seconds": 5, "forward": false}]'
check "rm f returns while its DELETE is held back" rm "$DB/snap2/f"
check "the bucket still has f (its delete is queued)" test "$(s3head "$P/snap2/f")" = 200
sleep 1.5   # past --meta-ttl: the queue, not the metadata cache, hides it now
check "stat: f is gone from the mount while queued" test ! -e "$DB/snap2/f"
check "ls: f is not listed while queued" bash -c "! ls '$DB/snap2' | grep -qx f"
echo new >"$DB/snap2/f"
check "rm f; echo new > f: the mount reads the new file" test "$(cat "$DB/snap2/f")" = new
check "the proxy held the DELETE back" test "$(fp_get 's["injected"].get("stall", 0)')" -ge 1
check "the held-back DELETE was sent again and reached RGW" delete_landed "$P/snap2/f"
check "rm f; echo new > f: the bucket has the new file" holds "$P/snap2/f" new
fp_rules '[{"method": "DELETE", "path": "/snap2/b$", "times": 1, "action": "stall", "seconds": 5, "forward": false}]'
rm "$DB/snap2/b"
check "rm b; mv a b" mv "$DB/snap2/a" "$DB/snap2/b"
check "the held-back DELETE of b reached RGW" delete_landed "$P/snap2/b"
check "rm b; mv a b: the bucket's b is a" holds "$P/snap2/b" a-content
check "rm b; mv a b: a is gone from the bucket" test "$(s3head "$P/snap2/a")" = 404
fp_reset

# ---------- DeleteObjects sent again after RGW deleted: keys already deleted are success ----------
# the first reply is lost (reset), the next one says a key failed for a moment (InternalError in the
# DeleteResult, after RGW deleted them all)
put_many "$P/snap3/" 300
fp_rules '[{"method": "POST", "query": "delete", "times": 1, "action": "reset_reply", "at": 0},
  {"method": "POST", "query": "delete", "times": 1, "action": "mangle", "how": "body",
   "body": "<?xml version=\"1.0\" encoding=\"UTF-8\"?><DeleteResult><Error><Key>kubedb/demo/pg/snap3/obj-00000</Key><Code>InternalError</Code><Message>try again</Message></Error></DeleteResult>"}]'
check "rm -r with a DeleteObjects reply lost, then a key failed for a moment" rm -r "$DB/snap3"
check "the proxy reset a DeleteObjects reply" test "$(fp_get 's["injected"].get("reset_reply", 0)')" -ge 1
check "the proxy answered one with a failed key" test "$(fp_get 's["injected"].get("mangle", 0)')" -ge 1
check "no object is left below snap3/" test "$(count "$P/snap3/")" = 0
check "the failed key was sent again, not reported" bash -c "! grep -q 'delete of $P/snap3/' '$LOG'"
fp_reset

# ---------- deletes that keep failing ----------
put_many "$P/snap4/" 50
ls "$DB/snap4" >/dev/null
fp_rules '[{"method": "POST", "query": "delete", "action": "status", "status": 500, "s3_code": "InternalError"},
  {"method": "DELETE", "action": "status", "status": 500, "s3_code": "InternalError"}]'
set +e
rm -r "$DB/snap4" 2>"$T_DIR/rm4.err"
rm_rc=$?
set -e
check "rm -r fails when the store refuses the deletes" test "$rm_rc" -ne 0
check "rm -r says why (Input/output error)" grep -q "Input/output error" "$T_DIR/rm4.err"
check "the log names a key whose delete failed" grep -q "delete of $P/snap4/obj-[0-9]* failed" "$LOG"
check "the bucket keeps all 50 objects" test "$(count "$P/snap4/")" = 50
sleep 1.5   # past --meta-ttl
check "the objects show again through the mount" test "$(ls "$DB/snap4" | wc -l)" = 50
check "and read as before" test -s "$DB/snap4/obj-00007"
fp_reset
check "a later rm -r deletes them" rm -r "$DB/snap4"
check "no object is left below snap4/" test "$(count "$P/snap4/")" = 0

# ---------- a delete still queued at unmount is done before exit ----------
echo last >"$DB/snap5/f"
fp_rules '[{"method": "DELETE", "path": "/snap5/f$", "times": 1, "action": "stall", "seconds": 3, "forward": false}]'
rm "$DB/snap5/f"
umount_snapfs "$MNT"
check "the delete queued at unmount was done before the daemon exited" test "$(s3head "$P/snap5/f")" = 404
check "the log said it finished the queued delete" grep -q "finishing 1 queued delete(s) before exit" "$LOG"

finish
