# The GCS test server itself: it must refuse what Google refuses (bad, expired, mis-scoped assertions,
# missing tokens, misaligned or misplaced chunks, stale generations), or the other GCS tests prove little.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/gcs.sh"

start_gcs_server --token-ttl 3
"$GCS_PY" "$SNAPFS_SRC/tests/gcs/gcs_probe.py" "$GCS_URL" "$GCS_KEY_DIR/key.pem" "$GCS_EMAIL" 3 >"$T_DIR/probe.out" 2>&1 &&
	probe_rc=0 || probe_rc=$?
cat "$T_DIR/probe.out"
check "the server passes every probe" [ "$probe_rc" -eq 0 ]
check "the probe ran its checks" [ "$(grep -c '^ok - ' "$T_DIR/probe.out")" -ge 40 ]
finish
