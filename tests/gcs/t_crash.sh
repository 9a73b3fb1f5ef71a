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
finish
