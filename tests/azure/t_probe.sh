#!/bin/bash
# The write check at mount on Azure (Azurite): Put Block and Put Block List of
# PREFIX/.snapfs-probe-<random>, a HEAD and a Delete Blob. A mount leaves no probe blob and no uncommitted
# block; a store that refuses Put Block List (the fault proxy answers 403 AuthorizationPermissionMismatch,
# then 400 InvalidBlockList) fails the mount with one line naming the step and the store's reason, before
# anything is mounted, and leaves neither a blob nor an uncommitted block. The mount time with and without
# the check is logged.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/azure.sh"
source "$SNAPFS_SRC/tests/faults/proxy.sh"
source "$SNAPFS_SRC/tests/lib/probe.sh"

start_azurite
OPTS=(--secret-dir "$AZ_SECRET" --endpoint "$AZ_ENDPOINT")
probe_blobs() { azcli list kubedb "" | grep -F .snapfs-probe- || true; }
# no_blocks KEY: the name has no uncommitted block (Put Block without Put Block List)
no_blocks() { [ "$(azcli uncommitted kubedb "$1")" = 0 ]; }

probe_mount ok azure://kubedb/team-a "${OPTS[@]}" --cache-dir "$T_DIR/cache-ok"
check "Azure: mounted after the write check" probe_ok ok
key=$(probe_key ok)
check "the probe blob is under the prefix, beside kubedb/" grep -Eq '^team-a/\.snapfs-probe-[0-9a-f]{16}$' <<<"$key"
check "no probe blob left" test -z "$(probe_blobs)"
check "no uncommitted block left" no_blocks "$key"
umount_snapfs "$T_DIR/mnt-ok"
probe_measure time azure://kubedb/team-a "${OPTS[@]}" --cache-dir "$T_DIR/cache-time"
check "no probe blob left after 5 more mounts" test -z "$(probe_blobs)"

start_fault_proxy "http://127.0.0.1:$AZ_PORT"
# refused STATUS CODE: Put Block List answered so; the mount must fail with the store's words
refused() {
	local status=$1 code=$2 key
	fp_reset
	fp_rules '[{"method": "PUT", "query": "comp=blocklist", "action": "status", "status": '"$status"',
		"azure_code": "'"$code"'", "message": "refused by the test"}]'
	probe_mount "c$status" azure://kubedb/team-a --secret-dir "$AZ_SECRET" --endpoint "$FP_URL/$AZ_ACCOUNT" \
		--cache-dir "$T_DIR/cache-c$status"
	check "Put Block List answered $status $code: the mount fails with one line" probe_refused "c$status" \
		"^snapfs: cannot mount azure://kubedb/team-a: write check: committing the chunked upload of team-a/\.snapfs-probe-[0-9a-f]{16} failed: azure: .*team-a/\.snapfs-probe-[0-9a-f]{16}: HTTP $status $code"
	log "it said: $(cat "$T_DIR/c$status.err")"
	check "the refusal came from the commit request itself" \
		grep -Eq "^PUT /$AZ_ACCOUNT/kubedb/team-a/\.snapfs-probe-[0-9a-f]{16}\?comp=blocklist fault:status" "$FP_JOURNAL"
	check "the block was uploaded before" \
		grep -Eq "^PUT /$AZ_ACCOUNT/kubedb/team-a/\.snapfs-probe-[0-9a-f]{16}\?comp=block&blockid=[^ ]* 201" "$FP_JOURNAL"
	key=$(probe_key "c$status")
	check "no probe blob left" test -z "$(probe_blobs)"
	check "no uncommitted block left" no_blocks "$key"
}
refused 403 AuthorizationPermissionMismatch
refused 400 InvalidBlockList
finish
