# The GCS backend through its ops table (tests/conformance/backend_check) against the test GCS server,
# with small list pages (pageToken) and rewrite in steps (rewriteToken) so both loops run.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/gcs.sh"

CHECK=$SNAPFS_BUILD/tests/conformance/backend_check
[ -x "$CHECK" ] || die "no $CHECK: build the tests first"

start_gcs_server --max-results 7 --rewrite-step $((1024 * 1024))

# a key the server does not know: the mount-time check must refuse it
BAD=$T_DIR/bad-key
gcs_make_key "$BAD" "$GCS_URL/token"

check "backend_check against the GCS test server" \
	"$CHECK" gs://kubedb/ci --secret-dir "$GCS_SECRET" --endpoint "$GCS_URL" --big-mib 40 --many 60 \
	--bad-secret-dir "$BAD/secret"

# what the server saw: the paths above really ran
check "list pagination used pageToken" [ "$(gcs_stat lists)" -gt 10 ]
check "chunked uploads went through resumable sessions" [ "$(gcs_stat sessions_finalized)" -ge 2 ]
check "an append composed" [ "$(gcs_stat composes)" -ge 1 ]
check "an aborted session was cancelled" [ "$(gcs_stat sessions_cancelled)" -ge 1 ]
check "no session left open" [ "$(gcs_stat sessions_open)" -eq 0 ]
check "no misaligned chunk" [ "$(gcs_stat misaligned_chunks)" -eq 0 ]
check "no chunk at a wrong offset" [ "$(gcs_stat offset_mismatches)" -eq 0 ]
check "the bad key was refused by its signature" \
	[ "$(curl -sf "$GCS_URL/_test/stats" | $GCS_PY -c 'import json,sys; print(json.load(sys.stdin)["token_refused"].get("signature",0))')" -ge 1 ]
finish
