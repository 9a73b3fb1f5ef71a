#!/bin/bash
# Azure (Azurite) through the fault proxy (tests/lib/fault_proxy.py):
# - transient faults (500, 503 ServerBusy, a reset mid-body, a reply stalled past --timeout 2) during a
#   big dd: the blob commits with the same bytes (read from Azurite directly with azcli);
# - a Put Block corrupted in flight must be refused by Azurite (it checks Content-MD5) and sent again;
# - a persistent fault (every Put Block fails): EIO within a bounded time, no blob, no uncommitted
#   block list, and the mount still works;
# - malformed List Blobs replies: EIO, and the daemon lives on.
# FAULT_AZ_MIB (default 256) sets the size of the big write.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/azure.sh"
source "$SNAPFS_SRC/tests/faults/proxy.sh"
source "$SNAPFS_SRC/tests/lib/faults.sh"

BIG_MIB=${FAULT_AZ_MIB:-256}

start_azurite
start_fault_proxy "http://127.0.0.1:$AZ_PORT"
MNT=$T_DIR/mnt
mount_snapfs azure://kubedb "$MNT" --secret-dir "$AZ_SECRET" --endpoint "$FP_URL/$AZ_ACCOUNT" \
	--cache-dir "$T_DIR/cache" --cache-size 256M --part-size 8M --uploads 4 --timeout 2 --retries 5 --meta-ttl 1
SNAP=$MNT/kubedb/demo/pg/faults
PID=$(cat "$T_DIR/snapfs-mnt.pid")
BLOB=kubedb/demo/pg/faults

# ---------- transient faults during a big write ----------
head -c "${BIG_MIB}M" /dev/urandom >"$T_DIR/big.bin"
# Put Block: PUT ?comp=block&blockid=...; Put Block List: PUT ?comp=blocklist
fp_rules '{"seed": 9, "rules": [
 {"method": "PUT", "query": "comp=block&", "skip": 1, "times": 3, "action": "status", "status": 500,
  "azure_code": "InternalError", "message": "The server encountered an internal error."},
 {"method": "PUT", "query": "comp=block&", "skip": 5, "times": 3, "action": "status", "status": 503,
  "azure_code": "ServerBusy", "message": "The server is currently unable to receive requests."},
 {"method": "PUT", "query": "comp=block&", "skip": 10, "times": 2, "action": "reset_request", "at": 0.5},
 {"method": "PUT", "query": "comp=block&", "skip": 14, "times": 1, "action": "stall", "seconds": 8},
 {"method": "PUT", "query": "comp=blocklist", "times": 1, "action": "status", "status": 503,
  "azure_code": "ServerBusy", "message": "The server is currently unable to receive requests."}
]}'
start=$(date +%s%N)
dd_rc=0
dd if="$T_DIR/big.bin" of="$SNAP/big.bin" bs=1M status=none || dd_rc=$?
check "dd of ${BIG_MIB} MiB through transient faults succeeds (exit $dd_rc)" test "$dd_rc" -eq 0
log "${BIG_MIB} MiB written through faults in $(elapsed_ms "$start") ms; injected: $(fp_get 's["injected"]')"
check "the proxy injected 500s" test "$(fp_get 'sum(r["injected"] for r in s["rules"] if r.get("status") == 500)')" -ge 3
check "the proxy injected 503 ServerBusy (blocks and block list)" \
	test "$(fp_get 'sum(r["injected"] for r in s["rules"] if r.get("status") == 503)')" -ge 4
check "the proxy reset connections mid request body" test "$(fp_get 's["injected"].get("reset_request", 0)')" -ge 2
check "the proxy stalled a reply past the timeout" test "$(fp_get 's["injected"].get("stall", 0)')" -ge 1
fp_reset
rm -f "$T_DIR/direct.bin"
# what close() said and what the store holds must agree
if [ "$dd_rc" -ne 0 ]; then
	check "after a failed close the blob is not in the store" test "$(azcli size kubedb "$BLOB/big.bin")" = missing
fi
check "read the blob from Azurite directly" azcli get kubedb "$BLOB/big.bin" "$T_DIR/direct.bin"
check "the committed blob is the file, byte for byte" cmp "$T_DIR/big.bin" "$T_DIR/direct.bin"
rm -f "$T_DIR/direct.bin"
check "no uncommitted blocks are left" test "$(azcli uncommitted kubedb "$BLOB/big.bin")" = 0

# ---------- a Put Block corrupted in flight: Azurite must refuse it (Content-MD5), snapfs resends ----------
head -c 40M /dev/urandom >"$T_DIR/mid.bin"
fp_rules '[{"method": "PUT", "query": "comp=block&", "skip": 1, "times": 1, "action": "corrupt"}]'
check "dd with one block corrupted in flight" dd if="$T_DIR/mid.bin" of="$SNAP/mid.bin" bs=1M status=none
check "the proxy corrupted a block" test "$(fp_get 's["injected"].get("corrupt", 0)')" -eq 1
log "Azurite's answer to the corrupted block: $(fp_get 's["corrupt_replies"]')"
check "the corrupted block was refused by the store's Content-MD5 check" \
	test "$(fp_get 'int(400 in s["corrupt_replies"])')" = 1
fp_reset
check "read the blob from Azurite directly" azcli get kubedb "$BLOB/mid.bin" "$T_DIR/direct.bin"
check "the blob committed after the corruption is the file, byte for byte" cmp "$T_DIR/mid.bin" "$T_DIR/direct.bin"
rm -f "$T_DIR/direct.bin"

# ---------- persistent fault: every Put Block fails ----------
fp_rules '[{"method": "PUT", "query": "comp=block&", "action": "status", "status": 500,
  "azure_code": "InternalError", "message": "The server encountered an internal error."}]'
fault_doomed block 1
sleep 1
check "the failed blob does not exist" test "$(azcli size kubedb "$BLOB/doomed.bin")" = missing
no_doomed_blocks() { test "$(azcli uncommitted kubedb "$BLOB/doomed.bin")" = 0; }
check "no uncommitted block list is left for it" eventually no_doomed_blocks
check "the log says the file was NOT stored" eventually grep -q "NOT stored" "$T_DIR/snapfs-mnt.log"
fault_survives

# ---------- malformed List Blobs replies: EIO, never a crash ----------
echo one >"$T_DIR/f1"
azcli put kubedb kubedb/demo/mal1/snap/f1 "$T_DIR/f1"
azcli put kubedb kubedb/demo/mal2/snap/f1 "$T_DIR/f1"
azcli put kubedb kubedb/demo/mal3/snap/f1 "$T_DIR/f1"
fault_bad_listings '"method": "GET", "query": "comp=list"' XML
fault_bad_listing "$MNT/kubedb/demo/mal3" "a listing cut inside an element" \
	'[{"method": "GET", "query": "comp=list", "action": "mangle", "how": "body",
  "body": "<?xml version=\"1.0\"?><EnumerationResults><Blobs><Blob><Name>kubedb/demo/mal3/snap/x</Name><Properties><Content-Length>12x"}]'
fault_listing_back 3

umount_snapfs "$MNT"
rm -f "$T_DIR/big.bin" "$T_DIR/mid.bin"
finish
