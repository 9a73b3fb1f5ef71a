#!/bin/bash
# A refused final request of a GCS resumable session (the one that declares the total, "Content-Range:
# bytes A-B/TOTAL" or "bytes */TOTAL"), through the fault proxy in front of the GCS test server:
# (a) refused for less than --commit-retry: close() succeeds, the object is whole, and each try after the
#     first asked the session what it had (bytes */*) before sending the rest;
# (b) refused for longer: close() fails with EIO, no object, the session stays open with a commit record
#     (the last unaligned bytes, the total, the CRC32C), the file is listed failed in .snapfs/status and
#     `snapctl failed`; with the proxy healthy `snapctl retry` publishes it byte for byte (one file with an
#     unaligned end, one whose last part is aligned: its retry is the empty "bytes */TOTAL" request), and
#     `snapctl discard` leaves no object, no session, no record;
# (c) a commit record that cannot be written: the commit is NOT kept (said in the log), the session is
#     cancelled, the file is not listed as a kept failure, and `snapctl retry` has nothing to store;
# (d) a failed commit left by a mount that stopped survives the next mount and `snapctl retry --all`
#     stores it with no mount running.
# Its own steps, not tests/lib/commit_kept.sh's: what it checks of a GCS session (its state, the commit record)
# has no counterpart in the other stores' scenarios.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/gcs.sh"
source "$SNAPFS_SRC/tests/faults/proxy.sh"

WINDOW=12
start_gcs_server
start_fault_proxy "$GCS_URL"
MNT=$T_DIR/mnt
CACHE=$T_DIR/cache
LOG=$T_DIR/snapfs-mnt.log
mount_snapfs gs://kubedb "$MNT" --secret-dir "$GCS_SECRET" --endpoint "$FP_URL" --cache-dir "$CACHE" \
	--retries 1 --timeout 10 --meta-ttl 1 --commit-retry "$WINDOW" --log-level info
K=kubedb/demo/pg/snap
S=$MNT/$K
mkdir -p "$S"
SNAPCTL=$SNAPFS_BUILD/snapctl
ERR_BODY='{\"error\": {\"code\": 503, \"message\": \"Backend Error\", \"errors\": [{\"reason\": \"backendError\"}]}}'
# the final request of a session: a PUT on its URI that declares the total
REFUSE='[{"method": "PUT", "query": "upload_id=", "header": "Content-Range: bytes [0-9*-]+/[0-9]+", "action": "status",
  "status": 503, "content_type": "application/json", "body": "'$ERR_BODY'"}]'
# the same, and the commit record's upload refused too
REFUSE_ALL='[{"method": "PUT", "query": "upload_id=", "header": "Content-Range: bytes [0-9*-]+/[0-9]+", "action": "status",
  "status": 503, "content_type": "application/json", "body": "'$ERR_BODY'"},
  {"method": "POST", "query": "uploadType=media", "action": "status", "status": 503, "content_type": "application/json",
  "body": "'$ERR_BODY'"}]'
# sc COMMAND ARGS...: snapctl on the store as the mount reaches it (a session URI names the host it was
# opened on, and snapctl sends the bearer token only there)
sc() { local cmd=$1; shift; "$SNAPCTL" "$cmd" "$@" --secret-dir "$GCS_SECRET" --endpoint "$FP_URL" --cache-dir "$CACHE"; }

# copy_checked SRC DST: cp, which checks close(); prints "close ok", "close EIO" (close() failed with EIO,
# the writes went through) or what else went wrong
copy_checked() {
	if cp "$1" "$2" 2>"$T_DIR/cp.err"; then
		echo "close ok"
	elif grep -q "failed to close .*: Input/output error" "$T_DIR/cp.err"; then
		echo "close EIO"
	else
		echo "failed: $(head -c 300 "$T_DIR/cp.err")"
	fi
}
# refused_long NAME: NAME copied while the proxy refuses: close() fails with EIO once the window ran out
refused_long() {
	local start ms
	start=$(date +%s%N)
	copy_checked "$T_DIR/$1" "$S/$1" >"$T_DIR/$1.out"
	ms=$(elapsed_ms "$start")
	log "$1: close() after ${ms} ms with --commit-retry $WINDOW: $(cat "$T_DIR/$1.out")"
	check "$1: close() fails with EIO" grep -qx "close EIO" "$T_DIR/$1.out"
	check "$1: not before the window ran out" test "$ms" -ge $((WINDOW * 1000))
	check "$1: no object in the store" absent "$1"
}
refused_twice() { [ "$(fp_get 'sum(r["injected"] for r in s["rules"])')" -ge 2 ]; }
eventually_long() { for _ in $(seq 600); do "$@" && return 0; sleep 0.1; done; return 1; }
# whole NAME: the object as the server keeps it on disk is T_DIR/NAME byte for byte
whole() { cmp -s "$T_DIR/$1" "$(gcs_obj_path "$K/$1")"; }
absent() { [ ! -e "$(gcs_obj_path "$K/$1")" ]; }
# session_state NAME: the state of the newest session that writes K/NAME ("none" when there is none)
session_state() {
	curl -sf "$GCS_URL/_test/sessions" | "$GCS_PY" -c '
import json, sys
s = [x for x in json.load(sys.stdin) if x["name"] == sys.argv[1]]
print(s[-1]["state"] if s else "none")' "$K/$1"
}
# records: how many commit records the server holds
records() { ls -A "$GCS_DATA/kubedb" | grep -c "snapfs%2Ftmp%2Fcommit-" || true; }
kept_in_status() {
	python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
f = [x for x in d["failed_commits"] if x["path"].endswith("/" + sys.argv[2])]
assert f and "refused the commit" in f[0]["reason"], d["failed_commits"]' "$MNT/.snapfs/status" "$1"
}
status_queries() { gcs_stat status_queries; }

head -c 21000000 /dev/urandom >"$T_DIR/a.bin"     # an unaligned end: the last bytes only in memory
head -c 21000000 /dev/urandom >"$T_DIR/b.bin"
head -c $((20 << 20)) /dev/urandom >"$T_DIR/c.bin"  # every part aligned: nothing left but the total
head -c 21000000 /dev/urandom >"$T_DIR/d.bin"
head -c 21000000 /dev/urandom >"$T_DIR/e.bin"
head -c 21000000 /dev/urandom >"$T_DIR/f.bin"

# ---------- (a) refused for a while, less than the window ----------
q0=$(status_queries)
fp_rules "$REFUSE"
copy_checked "$T_DIR/a.bin" "$S/a.bin" >"$T_DIR/a.out" &
CP=$!
check "(a) the final request is refused at least twice" eventually_long refused_twice
fp_reset
wait "$CP"
check "(a) close() succeeds once the store takes it" grep -qx "close ok" "$T_DIR/a.out"
check "(a) the object is whole, byte for byte" whole a.bin
check "(a) the log says it was tried again" grep -q "a.bin: completing the upload failed (.*): trying again" "$LOG"
check "(a) the tries asked the session what it had ($(($(status_queries) - q0)) status queries)" \
	test "$(($(status_queries) - q0))" -ge 1
check "(a) no commit record is left" test "$(records)" -eq 0

# ---------- (b) refused for longer than the window ----------
fp_rules "$REFUSE"
refused_long b.bin
check "(b) its session stays open" test "$(session_state b.bin)" = open
check "(b) with a commit record" test "$(records)" -eq 1
check "(b) .snapfs/status lists it under failed_commits with the reason" kept_in_status b.bin
check "(b) snapctl failed lists it" bash -c "'$SNAPCTL' failed gs://kubedb --cache-dir '$CACHE' | grep -q 'b.bin'"
refused_long c.bin   # the aligned one
refused_long d.bin
check "(b) three commit records" test "$(records)" -eq 3

fp_reset
check "(b) snapctl retry stores it" sc retry gs://kubedb /$K/b.bin
check "(b) the object is whole, byte for byte" whole b.bin
check "(b) the mount shows it" eventually bash -c "cmp -s '$T_DIR/b.bin' '$S/b.bin'"
check "(b) snapctl retry stores the aligned one" sc retry gs://kubedb /$K/c.bin
check "(b) whole, byte for byte" whole c.bin
check "(b) their records are gone" bash -c "! '$SNAPCTL' failed gs://kubedb --cache-dir '$CACHE' | grep -qE '(b|c).bin'"
check "(b) snapctl discard drops the third" sc discard gs://kubedb /$K/d.bin
check "(b) no object" absent d.bin
check "(b) its session is cancelled" test "$(session_state d.bin)" = cancelled
check "(b) no commit record left" test "$(records)" -eq 0
rc=0; sc retry gs://kubedb /$K/d.bin 2>/dev/null || rc=$?
check "(b) a retry of a discarded file finds nothing (exit $rc)" test "$rc" -ne 0

# ---------- (c) the commit record cannot be written: not kept, and said so ----------
fp_rules "$REFUSE_ALL"
refused_long e.bin
fp_reset
check "(c) the log says the commit cannot be kept" grep -q "e.bin: the failed commit cannot be kept" "$LOG"
check "(c) its session is cancelled" test "$(session_state e.bin)" = cancelled
check "(c) it is not listed as a kept failure" bash -c "! '$SNAPCTL' failed gs://kubedb --cache-dir '$CACHE' | grep -q e.bin"
rc=0; sc retry gs://kubedb /$K/e.bin 2>"$T_DIR/e.err" || rc=$?
check "(c) snapctl retry has nothing to store (exit $rc)" test "$rc" -ne 0
check "(c) no object after it either" absent e.bin

# ---------- (d) left by a mount that stopped: kept across the next mount, stored with no mount running ----------
fp_rules "$REFUSE"
refused_long f.bin
fp_reset
umount_snapfs "$MNT"
mount_snapfs gs://kubedb "$MNT" --secret-dir "$GCS_SECRET" --endpoint "$FP_URL" --cache-dir "$CACHE" \
	--retries 1 --timeout 10 --meta-ttl 1 --commit-retry "$WINDOW" --log-level info
check "(d) the next mount keeps it and says so" grep -q "kept the failed commit of /$K/f.bin" "$LOG"
check "(d) its session is still open" test "$(session_state f.bin)" = open
umount_snapfs "$MNT"
check "(d) snapctl retry --all stores it with no mount running" sc retry gs://kubedb --all
check "(d) the object is whole, byte for byte" whole f.bin
check "(d) nothing is kept any more" bash -c "'$SNAPCTL' failed --cache-dir '$CACHE' | grep -q 'no failed commit'"
check "(d) no commit record left" test "$(records)" -eq 0
check "no session left open" test "$(gcs_stat sessions_open)" -eq 0
finish
