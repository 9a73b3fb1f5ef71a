#!/bin/bash
# GCS (the test server in tests/servers/gcs_server.py) through the fault proxy: an append is a compose of
# the old object (ifGenerationMatch on the generation seen at the start) and a temporary. When the server
# composed but the reply was lost (drop_reply), the retry gets 412: the file IS stored, and close() must
# succeed with the object being the appended file. A 412 that is no lost reply (the compose never reached
# the server) must still fail with EIO and leave the old object.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/gcs.sh"
source "$SNAPFS_SRC/tests/faults/proxy.sh"
source "$SNAPFS_SRC/tests/lib/faults.sh"

OBJ=kubedb/demo/pg/lost
start_gcs_server
start_fault_proxy "$GCS_URL"
MNT=$T_DIR/mnt
mount_snapfs gs://kubedb "$MNT" --secret-dir "$GCS_SECRET" --endpoint "$FP_URL" --cache-dir "$T_DIR/cache" \
	--part-size 4M --timeout 5 --retries 3 --meta-ttl 0
LOG=$T_DIR/snapfs-mnt.log
SNAP=$MNT/$OBJ
mkdir -p "$SNAP"

# obj_is NAME FILE: the object as the server keeps it on disk is FILE byte for byte
obj_is() { cmp "$(gcs_obj_path "$OBJ/$1")" "$2"; }
found() { grep -c "gcs: $OBJ/$1 was composed by an attempt whose reply was lost" "$LOG" || true; }

head -c 9M /dev/urandom >"$T_DIR/a.bin"
check "a first version is written" cp "$T_DIR/a.bin" "$SNAP/a.bin"
check "and stored" obj_is a.bin "$T_DIR/a.bin"

# ---------- an append whose compose reply is lost: the retry gets 412 ----------
head -c 3M /dev/urandom >"$T_DIR/tail.bin"
cat "$T_DIR/a.bin" "$T_DIR/tail.bin" >"$T_DIR/a2.bin"
composes=$(gcs_stat composes)
fp_rules '[{"method": "POST", "path": "/compose$", "times": 1, "action": "drop_reply"}]'
check "an append whose compose reply is lost succeeds" sh -c "cat '$T_DIR/tail.bin' >>'$SNAP/a.bin'"
check "the proxy dropped the reply of a compose" test "$(fp_get 's["injected"].get("drop_reply", 0)')" = 1
check "the server composed once" test "$(gcs_stat composes)" = "$((composes + 1))"
check "the object is the appended file" obj_is a.bin "$T_DIR/a2.bin"
check "the log says the lost reply's compose was found" test "$(found a.bin)" = 1
check "the log does not say NOT stored" bash -c "! grep -q 'lost/a.bin: NOT stored' '$LOG'"
fp_reset

# ---------- a 412 that is no lost reply: EIO, the old object stays ----------
head -c 1M /dev/urandom >"$T_DIR/tail2.bin"
fp_rules '[{"method": "POST", "path": "/compose$", "times": 1, "action": "status", "status": 412,
  "content_type": "application/json",
  "body": "{\"error\": {\"code\": 412, \"message\": \"At least one of the pre-conditions you specified did not hold.\", \"errors\": [{\"reason\": \"conditionNotMet\"}]}}"}]'
fault_append_refused compose object obj_is found 1
fp_reset

umount_snapfs "$MNT"
finish
