#!/bin/bash
# Azure (Azurite) through the fault proxy: a Put Block List that the service carried out but whose reply
# was lost (drop_reply). The retry meets the commit it repeats: our blocks are no longer uncommitted (400
# InvalidBlockList), or, for an append, the blob no longer has the If-Match ETag (412). Either way the
# file IS stored: close() must succeed and the blob be the file. A 412 that is no lost reply (the commit
# never reached the service) must still fail with EIO and leave the old blob.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/azure.sh"
source "$SNAPFS_SRC/tests/faults/proxy.sh"
source "$SNAPFS_SRC/tests/lib/faults.sh"

start_azurite
start_fault_proxy "http://127.0.0.1:$AZ_PORT"
MNT=$T_DIR/mnt
mount_snapfs azure://kubedb "$MNT" --secret-dir "$AZ_SECRET" --endpoint "$FP_URL/$AZ_ACCOUNT" \
	--cache-dir "$T_DIR/cache" --part-size 8M --timeout 5 --retries 3 --meta-ttl 0
LOG=$T_DIR/snapfs-mnt.log
SNAP=$MNT/kubedb/demo/pg/lost
BLOB=kubedb/demo/pg/lost

# blob_is NAME FILE: the blob, read from Azurite directly, is FILE byte for byte
blob_is() {
	rm -f "$T_DIR/direct.bin"
	azcli get kubedb "$BLOB/$1" "$T_DIR/direct.bin" && cmp "$T_DIR/direct.bin" "$2"
}
landed() { grep -c "azure: $BLOB/$1 was committed by an attempt whose reply was lost" "$LOG" || true; }

# ---------- a new blob: the retry of Put Block List gets 400 InvalidBlockList ----------
head -c 20M /dev/urandom >"$T_DIR/a.bin"
fp_rules '[{"method": "PUT", "query": "comp=blocklist", "times": 1, "action": "drop_reply"}]'
check "cp of a new file whose Put Block List reply is lost succeeds" cp "$T_DIR/a.bin" "$SNAP/a.bin"
check "the proxy dropped the reply of a Put Block List" test "$(fp_get 's["injected"].get("drop_reply", 0)')" = 1
check "the blob is the file" blob_is a.bin "$T_DIR/a.bin"
check "the log says the lost reply's commit was found" test "$(landed a.bin)" = 1
check "the log does not say NOT stored" bash -c "! grep -q 'lost/a.bin: NOT stored' '$LOG'"
fp_reset

# ---------- an append (If-Match on the old blob's ETag): the retry gets 412 ----------
head -c 3M /dev/urandom >"$T_DIR/tail.bin"
cat "$T_DIR/a.bin" "$T_DIR/tail.bin" >"$T_DIR/a2.bin"
fp_rules '[{"method": "PUT", "query": "comp=blocklist", "header": "(?im)^if-match:", "times": 1,
  "action": "drop_reply"}]'
check "an append whose Put Block List reply is lost succeeds" sh -c "cat '$T_DIR/tail.bin' >>'$SNAP/a.bin'"
check "the proxy dropped the reply of the append's commit" \
	test "$(fp_get 's["injected"].get("drop_reply", 0)')" = 1
check "the blob is the appended file" blob_is a.bin "$T_DIR/a2.bin"
check "the log says the append's commit was found" test "$(landed a.bin)" = 2
fp_reset

# ---------- a 412 that is no lost reply: EIO, the old blob stays ----------
head -c 1M /dev/urandom >"$T_DIR/tail2.bin"
fp_rules '[{"method": "PUT", "query": "comp=blocklist", "times": 1, "action": "status", "status": 412,
  "azure_code": "ConditionNotMet", "message": "The condition specified using HTTP conditional header(s) is not met."}]'
fault_append_refused commit blob blob_is landed 2
fp_reset

umount_snapfs "$MNT"
finish
