#!/usr/bin/env bash
# kill -9 during two uploads to GCS, then a remount with the same cache dir: the remount cancels both
# resumable sessions (tests/lib/crash.sh). Checked twice: in the test server's own state, and as a real
# GCS would show it, by a status query on each session URI from the journal (308 before, 404/410/499
# after).
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/gcs.sh"
source "$SNAPFS_SRC/tests/lib/crash.sh"

start_gcs_server
TOKEN=$(gcs_token)

crash_mount() {
	local mnt=$1; shift
	mount_snapfs gs://kubedb "$mnt" --secret-dir "$GCS_SECRET" --endpoint "$GCS_URL" "$@"
}
# sessions still open for names below the crash folder
crash_leftovers() {
	curl -sf "$GCS_URL/_test/sessions" | "$GCS_PY" -c '
import json, sys
for s in json.load(sys.stdin):
    if s["state"] == "open" and s["name"].startswith(sys.argv[1]):
        print(s["name"], s["id"], s["persisted"])' "$CRASH_DIR/"
}
# sessions still open for an append's temporary
open_tmp() {
	curl -sf "$GCS_URL/_test/sessions" | "$GCS_PY" -c '
import json, sys
for s in json.load(sys.stdin):
    if s["state"] == "open" and s["name"].startswith(".snapfs/tmp/"):
        print(s["name"], s["id"])'
}
crash_get() { [ -f "$(gcs_obj_path "$1")" ] && cp "$(gcs_obj_path "$1")" "$2"; }
export -f crash_get gcs_obj_path
export GCS_DATA GCS_PY

# status of a session URI: what a client of the real service sees
session_status() {
	curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: Bearer $TOKEN" \
		-H "Content-Range: bytes */*" "$1"
}
crash_before_remount() {
	local uri code ok=1
	for uri in $(grep '^http' "$T_DIR/records.crash"); do
		code=$(session_status "$uri")
		[ "$code" = 308 ] || ok=0
	done
	check "before the remount, both sessions answer 308 (still open)" test "$ok" = 1 -a \
		"$(grep -c '^http' "$T_DIR/records.crash")" -eq 2
}

crash_run
ok=1
for uri in $(grep '^http' "$T_DIR/records.crash"); do
	code=$(session_status "$uri")
	case $code in 404 | 410 | 499) ;; *) ok=0; log "session still answers $code" ;; esac
done
check "after the remount, both session URIs answer as cancelled" test "$ok" = 1

# An append (pg_dumpall -f reopens with O_APPEND) writes a temporary object to compose after the old
# one: its record names the session and the temporary, and the discard cancels the one and drops the
# other, should it exist.
MNT=$T_DIR/mnt
KEY=$CRASH_DIR/dumpfile.sql
crash_remount "$MNT" --cache-dir "$T_DIR/cache" --part-size 5M
PID=$(crash_pid)
( head -c $((40 * 1024 * 1024)) /dev/urandom; sleep 120 ) >>"$MNT/$KEY" 2>/dev/null &
W=$!
T_PIDS+=("$W")
for _ in $(seq 600); do
	[ -n "$(crash_records)" ] && [ -n "$(crash_leftovers; open_tmp)" ] && break
	sleep 0.1
done
check "append: the record names a session and a temporary" grep -q '^http.* .*\.snapfs/tmp/append-' $(crash_records)
kill -9 "$PID"
kill "$W" 2>/dev/null || true
wait "$W" 2>/dev/null || true
fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT"
check "append: its session is open after the crash" test -n "$(open_tmp)"
n=$(grep -c "recovered: discarded the unfinished upload of $KEY (left by a crash)" "$T_DIR/snapfs-mnt.log")
crash_remount "$MNT" --cache-dir "$T_DIR/cache" --part-size 5M
check "append: the remount discarded it" \
	test "$(grep -c "recovered: discarded the unfinished upload of $KEY (left by a crash)" "$T_DIR/snapfs-mnt.log")" -eq $((n + 1))
check "append: no session is left open" test -z "$(open_tmp)"
check "append: no temporary object is left" test -z "$(ls "$GCS_DATA/kubedb" | grep -i 'snapfs%2Ftmp' || true)"
check "append: the journal is empty" test -z "$(crash_records)"
check "append: the old dump is untouched" cmp -s "$T_DIR/old" "$MNT/$KEY"
umount_snapfs "$MNT"
finish
