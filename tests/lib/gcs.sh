# The GCS test server (tests/servers/gcs_server.py; no emulator runs here) and a service-account key
# made with openssl. Source after common.sh.
#   gcs_make_key DIR [TOKEN_URI]  a key pair and a secret dir DIR/secret with GOOGLE_PROJECT_ID and
#                                 GOOGLE_SERVICE_ACCOUNT_JSON_KEY (the JSON key file the console makes)
#   start_gcs_server [args...]    a server on a free port with bucket "kubedb"; sets GCS_URL, GCS_DATA,
#                                 GCS_SECRET, GCS_EMAIL, GCS_KEY_DIR; extra args go to the server
#   gcs_fault JSON                set a fault knob (see the server's docstring)
#   gcs_stat NAME                 a counter from the server's /_test/stats
#   gcs_obj_path NAME [BUCKET]    the file where the server stores an object (for byte-for-byte checks)
#   gcs_token                     an access token for the test key (signed JWT exchanged at the server)
#   gcs_put NAME FILE             a simple upload with curl, bypassing snapfs

# Debian's python3 has python3-cryptography; a python first on PATH may not
GCS_PY=/usr/bin/python3
GCS_EMAIL=snapfs-test@demo-project.iam.gserviceaccount.com

gcs_make_key() {
	local dir=$1 token_uri=${2:-https://oauth2.googleapis.com/token}
	mkdir -p "$dir/secret"
	chmod 700 "$dir/secret"
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/key.pem" 2>/dev/null
	openssl pkey -in "$dir/key.pem" -pubout -out "$dir/pub.pem"
	printf 'demo-project' >"$dir/secret/GOOGLE_PROJECT_ID"
	"$GCS_PY" - "$dir/key.pem" "$token_uri" "$GCS_EMAIL" >"$dir/secret/GOOGLE_SERVICE_ACCOUNT_JSON_KEY" <<'PY'
import json, sys
pem = open(sys.argv[1]).read()
print(json.dumps({
    "type": "service_account", "project_id": "demo-project", "private_key_id": "0123abcd-test-key",
    "private_key": pem, "client_email": sys.argv[3], "client_id": "100000000000000000001",
    "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": sys.argv[2],
    "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
}, indent=2))
PY
	chmod 600 "$dir/secret/"*
}

start_gcs_server() {
	local port
	port=$(free_port)
	GCS_URL=http://127.0.0.1:$port
	GCS_DATA=$T_DIR/gcs-data
	GCS_KEY_DIR=$T_DIR/gcs-key
	GCS_SECRET=$GCS_KEY_DIR/secret
	mkdir -p "$GCS_DATA"
	gcs_make_key "$GCS_KEY_DIR" "$GCS_URL/token"
	bg gcs "$GCS_PY" "$SNAPFS_SRC/tests/servers/gcs_server.py" --port "$port" --data "$GCS_DATA" \
		--bucket kubedb --public-key "$GCS_KEY_DIR/pub.pem" --client-email "$GCS_EMAIL" \
		--key-id 0123abcd-test-key "$@" >/dev/null
	wait_http "$GCS_URL/_test/stats" 30
	export GCS_URL GCS_DATA GCS_SECRET GCS_KEY_DIR
}

gcs_fault() {
	curl -sf -X POST --data-binary "$1" "$GCS_URL/_test/faults" >/dev/null
}

# the stats JSON has one "name": number per line; sed keeps this cheap on a busy machine
gcs_stat() {
	curl -sf "$GCS_URL/_test/stats" | sed -n "s/^ *\"$1\": \([0-9][0-9]*\).*/\1/p"
}

gcs_obj_path() {
	"$GCS_PY" -c 'import sys, urllib.parse as u; print(sys.argv[1] + "/" + sys.argv[3] + "/" +
u.quote(sys.argv[2], safe=""))' "$GCS_DATA" "$1" "${2:-kubedb}"
}

gcs_token() {
	"$GCS_PY" - "$GCS_KEY_DIR/key.pem" "$GCS_URL" "$GCS_EMAIL" <<'PY'
import base64, json, sys, time, urllib.parse, urllib.request
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
key = serialization.load_pem_private_key(open(sys.argv[1], "rb").read(), None)
b64 = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
now = int(time.time())
inp = b64({"alg": "RS256", "typ": "JWT"}) + "." + b64({"iss": sys.argv[3], "aud": sys.argv[2] + "/token",
    "scope": "https://www.googleapis.com/auth/devstorage.read_write", "iat": now, "exp": now + 3600})
sig = base64.urlsafe_b64encode(key.sign(inp.encode(), padding.PKCS1v15(), hashes.SHA256())).rstrip(b"=")
body = urllib.parse.urlencode({"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                               "assertion": inp + "." + sig.decode()}).encode()
req = urllib.request.Request(sys.argv[2] + "/token", body,
                             {"Content-Type": "application/x-www-form-urlencoded"})
print(json.load(urllib.request.urlopen(req))["access_token"])
PY
}

gcs_put() {
	local name
	name=$("$GCS_PY" -c 'import sys, urllib.parse as u; print(u.quote(sys.argv[1], safe=""))' "$1")
	curl -sf -o /dev/null -X POST -H "Authorization: Bearer $(gcs_token)" -H "Expect:" \
		-H "Content-Type: application/octet-stream" --data-binary "@$2" \
		"$GCS_URL/upload/storage/v1/b/${3:-kubedb}/o?uploadType=media&name=$name"
}
