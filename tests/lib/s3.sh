# s3rver (an S3 emulator, from tests/servers/node_modules) on 127.0.0.1 for the s3 tests.
# Use after common.sh: start_s3rver sets S3_PORT, S3_ENDPOINT (for --endpoint), S3_SECRET (a --secret-dir
# with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY as kubectl lays them out) and S3_DATA (the server's
# folder); the bucket "kubedb" exists. s3curl is an independent client (curl's own SigV4) for checking
# what landed in the store, without snapfs.

S3RVER_BIN=$SNAPFS_SRC/tests/servers/node_modules/.bin/s3rver
# s3rver's fixed development credentials
S3_KEY_ID=S3RVER
S3_KEY=S3RVER
export S3_KEY_ID S3_KEY

# write_s3_secret DIR KEY_ID KEY: a secret dir as `kubectl create secret generic --from-file` makes it
write_s3_secret() {
	local dir=$1
	mkdir -p "$dir"
	printf '%s' "$2" >"$dir/AWS_ACCESS_KEY_ID"
	printf '%s\n' "$3" >"$dir/AWS_SECRET_ACCESS_KEY"   # a trailing newline, as `echo KEY > file` leaves
	chmod 600 "$dir"/AWS_*
}

# start_s3rver [--tls CERT KEY] [BUCKET...]: "kubedb" and any extra buckets. Virtual-host requests work
# through s3.localhost (KEY.s3.localhost:PORT: curl resolves *.localhost to the loopback itself).
start_s3rver() {
	[ -x "$S3RVER_BIN" ] || die "s3rver is not installed: run 'npm ci' in tests/servers"
	local scheme=http tls=()
	S3_CA=
	if [ "${1:-}" = --tls ]; then
		scheme=https
		tls=(--cert "$2" --key "$3")
		S3_CA=$2
		shift 3
	fi
	S3_PORT=$(free_port)
	S3_DATA=$T_DIR/s3rver-data-$S3_PORT
	mkdir -p "$S3_DATA"
	local buckets=(--configure-bucket kubedb)
	for b in "$@"; do
		buckets+=(--configure-bucket "$b")
	done
	# s3rver's continuation tokens use DES, which Node's OpenSSL 3 keeps in its legacy provider: without it
	# every truncated listing (more than max-keys keys) answers 500 InternalError
	bg s3rver env NODE_OPTIONS=--openssl-legacy-provider "$S3RVER_BIN" -d "$S3_DATA" -a 127.0.0.1 \
		-p "$S3_PORT" --silent --service-endpoint localhost "${tls[@]}" "${buckets[@]}" >/dev/null
	S3_ENDPOINT=$scheme://127.0.0.1:$S3_PORT
	local n
	for n in $(seq 300); do
		curl -sk -o /dev/null --max-time 2 "$S3_ENDPOINT/" && break
		[ "$n" -lt 300 ] || die "s3rver did not come up at $S3_ENDPOINT"
		sleep 0.1
	done
	S3_SECRET=$T_DIR/s3-secret
	write_s3_secret "$S3_SECRET" "$S3_KEY_ID" "$S3_KEY"
	export S3_PORT S3_ENDPOINT S3_SECRET S3_DATA S3_CA
}

# s3curl METHOD BUCKET/KEY [curl options...]: one signed request to s3rver with curl's --aws-sigv4
s3curl() {
	local method=$1 path=$2; shift 2
	local ca=()
	[[ $S3_ENDPOINT != https:* ]] || ca=(--cacert "$S3_CA")
	curl -sS --fail-with-body "${ca[@]}" -X "$method" --aws-sigv4 "aws:amz:us-east-1:s3" --user "$S3_KEY_ID:$S3_KEY" \
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@" "$S3_ENDPOINT/$path"
}

# self_signed DIR: DIR/cert.pem and DIR/key.pem for 127.0.0.1 and localhost names
self_signed() {
	mkdir -p "$1"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
		-addext "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:s3.localhost,DNS:*.s3.localhost" \
		-keyout "$1/key.pem" -out "$1/cert.pem" >/dev/null 2>&1
}

# s3get BUCKET/KEY FILE: download an object with curl
s3get() { s3curl GET "$1" -o "$2"; }
# s3put FILE BUCKET/KEY: upload a file with curl
s3put() { s3curl PUT "$2" -T "$1" -o /dev/null; }

# no_open_uploads BUCKET: s3rver keeps each multipart upload in a folder until it is completed (it has no
# ListMultipartUploads to ask): none may be left once every file is closed
no_open_uploads() {
	local d=$S3_DATA/$1/._S3rver_uploads
	[ ! -d "$d" ] || [ -z "$(ls -A "$d")" ] || { ls -l "$d" >&2; return 1; }
}

urlq() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }

# s3keys BUCKET PREFIX: the keys below PREFIX, one a line, listed by curl (every page)
s3keys() {
	local bucket=$1 prefix=$2 token="" out
	while :; do
		# in sorted order: curl's --aws-sigv4 signs the query as given, and a server that checks
		# signatures (RGW) sorts it
		out=$(s3curl GET "$bucket?${token:+continuation-token=$(urlq "$token")&}list-type=2&prefix=$(urlq "$prefix")") || return 1
		{ grep -o '<Key>[^<]*</Key>' <<<"$out" || true; } | sed 's/<Key>\(.*\)<\/Key>/\1/'
		grep -q '<IsTruncated>true</IsTruncated>' <<<"$out" || break
		token=$(grep -o '<NextContinuationToken>[^<]*</NextContinuationToken>' <<<"$out" | sed 's/<[^>]*>//g')
	done
}

# start_sigv4_proxy: s3rver checks only the key id of a SigV4 request, not its signature; this puts
# tests/s3/sigv4_proxy.py (an independent verifier) in front of it. Sets S3V_ENDPOINT; the proxy log
# ($T_DIR/sigv4-proxy.log) counts verified and refused requests when it stops.
start_sigv4_proxy() {
	local pf=$T_DIR/sigv4-proxy.port
	rm -f "$pf"
	bg sigv4-proxy python3 "$SNAPFS_SRC/tests/s3/sigv4_proxy.py" "$S3_PORT" "$S3_KEY_ID" "$S3_KEY" "$pf" >/dev/null
	for _ in $(seq 300); do
		[ -s "$pf" ] && break
		sleep 0.1
	done
	[ -s "$pf" ] || die "the SigV4 proxy did not start"
	S3V_ENDPOINT=http://127.0.0.1:$(cat "$pf")
	export S3V_ENDPOINT
}
