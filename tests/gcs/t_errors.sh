# A gs:// mount refuses bad credentials and a missing or forbidden bucket at mount time with one line
# that names the problem (and the key id, never key material); nothing gets mounted.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/gcs.sh"

start_gcs_server --bucket other --forbidden-bucket locked
M=$T_DIR/mnt
mkdir -p "$M"

# refused NAME SOURCE SECRET_DIR PATTERN: the mount fails with one stderr line matching PATTERN
refused() {
	local name=$1 src=$2 sec=$3 pattern=$4 rc=0
	"$SNAPFS" "$src" "$M" --secret-dir "$sec" --endpoint "$GCS_URL" --cache-dir "$T_DIR/cache" \
		--timeout 5 --retries 1 --log-file "$T_DIR/snapfs-errors.log" 2>"$T_DIR/err.txt" || rc=$?
	log "$name: rc $rc: $(cat "$T_DIR/err.txt")"
	check "$name: the mount fails" [ "$rc" -ne 0 ]
	check "$name: not mounted" bash -c "! mountpoint -q '$M'"
	check "$name: one line" [ "$(wc -l <"$T_DIR/err.txt")" -eq 1 ]
	check "$name: the reason says why" grep -q -E "$pattern" "$T_DIR/err.txt"
	check "$name: no key material" bash -c "! grep -q -E 'PRIVATE KEY|MII|ya29' '$T_DIR/err.txt' '$T_DIR/snapfs-errors.log'"
	mountpoint -q "$M" && fusermount3 -u "$M"
	return 0
}

# secret dirs with one thing wrong each
variant() {
	local d=$T_DIR/sec-$1
	mkdir -p "$d"
	cp "$GCS_SECRET"/* "$d/"
	echo "$d"
}
KEYF=GOOGLE_SERVICE_ACCOUNT_JSON_KEY

d=$(variant notjson); printf '{"type": "service_account", "private_key": "-----BEGIN' >"$d/$KEYF"
refused "a key file that is not JSON" gs://kubedb "$d" "$KEYF is not valid JSON"

d=$(variant nopem)
$GCS_PY -c 'import json,sys; k=json.load(open(sys.argv[1])); k["private_key"]=k["private_key"][:300]; print(json.dumps(k))' \
	"$GCS_SECRET/$KEYF" >"$d/$KEYF"
refused "a key file with a cut private key" gs://kubedb "$d" "not a PEM private key.*0123abcd-test-key|0123abcd-test-key.*not a PEM"

d=$(variant noemail)
$GCS_PY -c 'import json,sys; k=json.load(open(sys.argv[1])); del k["client_email"]; print(json.dumps(k))' \
	"$GCS_SECRET/$KEYF" >"$d/$KEYF"
refused "a key file without client_email" gs://kubedb "$d" "client_email"

d=$(variant noproject); rm "$d/GOOGLE_PROJECT_ID"
refused "no GOOGLE_PROJECT_ID" gs://kubedb "$d" "GOOGLE_PROJECT_ID is missing"

gcs_make_key "$T_DIR/other-key" "$GCS_URL/token"
refused "a key the server does not know" gs://kubedb "$T_DIR/other-key/secret" \
	"token refused.*0123abcd-test-key.*Invalid JWT Signature"

d=$(variant badtokenuri)
port=$(free_port)
$GCS_PY -c 'import json,sys; k=json.load(open(sys.argv[1])); k["token_uri"]=sys.argv[2]; print(json.dumps(k))' \
	"$GCS_SECRET/$KEYF" "http://127.0.0.1:$port/token" >"$d/$KEYF"
refused "a token endpoint that is down" gs://kubedb "$d" "token endpoint .* unreachable"

refused "a missing bucket" gs://nosuch "$GCS_SECRET" "bucket 'nosuch' does not exist"
refused "a forbidden bucket" gs://locked "$GCS_SECRET" "may not use bucket 'locked'"

# and the right secret still mounts another bucket
mount_snapfs gs://other "$M" --secret-dir "$GCS_SECRET" --endpoint "$GCS_URL" --cache-dir "$T_DIR/cache"
check "the good key mounts" mountpoint -q "$M"
umount_snapfs "$M"
finish
