#!/bin/bash
# A refused Put Block List on Azurite, through the fault proxy (the scenario of tests/lib/commit_kept.sh):
# (a) refused for less than --commit-retry: the commit is tried again with backoff without dropping
#     the blocks in between, close() succeeds, the blob is whole and no uncommitted block is left;
# (b) refused for longer: close() fails with EIO, no blob, `snapctl wait` exits 1, the blocks stay
#     uncommitted in the blob's name and the record is kept (status, snapctl failed); with the proxy
#     healthy again `snapctl retry` commits them byte for byte (Get Block List of the upload's own
#     blocks, in the order of their ids), `snapctl discard` leaves no block; a blob stored again after
#     its commit failed is not replaced by a retry;
# (c) a failed commit left by a mount that stopped survives the next mount, and `snapctl retry`
#     stores it with no mount running.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/azure.sh"
source "$SNAPFS_SRC/tests/faults/proxy.sh"
source "$SNAPFS_SRC/tests/lib/commit_kept.sh"

WINDOW=10
start_azurite
start_fault_proxy "http://127.0.0.1:$AZ_PORT"
kept_mount azure://kubedb --secret-dir "$AZ_SECRET" --endpoint "$FP_URL/$AZ_ACCOUNT" --part-size 8M
REFUSE='{"rules": [{"method": "PUT", "query": "comp=blocklist", "action": "status", "status": 503,
 "azure_code": "ServerBusy", "message": "The server is currently unable to receive requests."}]}'
# the newer version of e.bin spans two blocks, so its own Put Block List is what drops the kept
# upload's blocks (whatever the emulator does with them at a Put Blob)
E2_SIZE=9000000

sc() { local cmd=$1; shift; "$SNAPCTL" "$cmd" "$@" --secret-dir "$AZ_SECRET" --endpoint "$AZ_ENDPOINT" --cache-dir "$CACHE"; }
whole() { azcli get kubedb "$K/$1" "$T_DIR/$1.got" && cmp -s "$T_DIR/$1" "$T_DIR/$1.got"; }
absent() { [ "$(azcli size kubedb "$K/$1")" = missing ]; }
upload_open() { [ "$(azcli uncommitted kubedb "$K/$1")" -gt 0 ]; }
no_upload() { [ "$(azcli uncommitted kubedb "$K/$1")" = 0 ]; }

commit_retried
check "(a) no uncommitted blocks are left" no_upload a.bin
commit_kept
check "(b) the retried blob left no uncommitted block" no_upload b.bin
commit_kept_across_mounts
check "(c) no uncommitted block is left" no_upload d.bin
finish
