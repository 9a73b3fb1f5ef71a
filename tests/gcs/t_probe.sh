#!/bin/bash
# The write check at mount on GCS (the tests' GCS server): a resumable session for
# PREFIX/.snapfs-probe-<random> finished by its final chunk, a GET of the object resource and a DELETE. A
# mount leaves no probe object and no open session; a store that refuses the final chunk (the fault proxy
# answers 403 forbidden, then 400 invalid, to the PUT that carries the total length) fails the mount with
# one line naming the step and the store's reason, before anything is mounted, and leaves neither an
# object nor an open session. The mount time with and without the check is logged.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/gcs.sh"
source "$SNAPFS_SRC/tests/faults/proxy.sh"
source "$SNAPFS_SRC/tests/lib/probe.sh"

start_gcs_server
OPTS=(--secret-dir "$GCS_SECRET" --endpoint "$GCS_URL")
probe_objects() { ls -A "$GCS_DATA/kubedb" | grep -F .snapfs-probe- || true; }
open_sessions() { gcs_stat sessions_open; }

probe_mount ok gs://kubedb/team-a "${OPTS[@]}" --cache-dir "$T_DIR/cache-ok"
check "GCS: mounted after the write check" probe_ok ok
key=$(probe_key ok)
check "the probe object is under the prefix, beside kubedb/" grep -Eq '^team-a/\.snapfs-probe-[0-9a-f]{16}$' <<<"$key"
check "it was made by a resumable session" test "$(gcs_stat sessions_finalized)" -ge 1
check "no probe object left" test -z "$(probe_objects)"
check "no session left open" test "$(open_sessions)" = 0
umount_snapfs "$T_DIR/mnt-ok"
probe_measure time gs://kubedb/team-a "${OPTS[@]}" --cache-dir "$T_DIR/cache-time"
check "no probe object left after 5 more mounts" test -z "$(probe_objects)"

start_fault_proxy "$GCS_URL"
# refused STATUS REASON: the session's final chunk (Content-Range with the total) answered so
refused() {
	local status=$1 reason=$2
	fp_reset
	fp_rules '[{"method": "PUT", "query": "upload_id=", "header": "(?i)content-range: bytes [0-9]+-[0-9]+/[0-9]+",
		"action": "status", "status": '"$status"', "content_type": "application/json",
		"body": "{\"error\": {\"code\": '"$status"', \"message\": \"refused by the test\", \"errors\": [{\"reason\": \"'"$reason"'\", \"message\": \"refused by the test\"}]}}"}]'
	probe_mount "c$status" gs://kubedb/team-a --secret-dir "$GCS_SECRET" --endpoint "$FP_URL" \
		--cache-dir "$T_DIR/cache-c$status"
	check "the final chunk answered $status $reason: the mount fails with one line" probe_refused "c$status" \
		"^snapfs: cannot mount gs://kubedb/team-a: write check: committing the chunked upload of team-a/\.snapfs-probe-[0-9a-f]{16} failed: gcs: .*refused by the test"
	log "it said: $(cat "$T_DIR/c$status.err")"
	check "the refusal came from the final chunk" grep -Eq "^PUT [^ ]*upload_id=[^ ]* fault:status" "$FP_JOURNAL"
	check "the session was opened through the proxy" grep -Eq "^POST [^ ]*uploadType=resumable[^ ]* 200" "$FP_JOURNAL"
	check "no probe object left" test -z "$(probe_objects)"
	check "no session left open" test "$(open_sessions)" = 0
}
refused 403 forbidden
refused 400 invalid
finish
