#!/bin/bash
# The s3 backend through the generic conformance driver (tests/conformance/backend_check) against Ceph
# RGW, which checks every SigV4 signature and the multipart rules: path style with more than 1,000 keys,
# a source prefix, virtual-host style (RGW's "rgw dns name" is s3.localhost: BUCKET.s3.localhost, which
# curl resolves to the loopback itself), https with CA_CERT_DATA (an HTTPS front, the fault proxy, before
# RGW), and the refusals of open() (wrong secret, unknown key id, no bucket, no server, an untrusted
# certificate). RGW has UploadPartCopy, AbortMultipartUpload and ListMultipartUploads: the append and
# list_uploads checks run for real.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/rgw.sh"
source "$SNAPFS_SRC/tests/faults/proxy.sh"

BC=$SNAPFS_BUILD/tests/conformance/backend_check
[ -x "$BC" ] || die "$BC is not built"
# no fallback to the environment of whoever runs the tests
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN

contains() { grep -qF -- "$2" "$1"; }
no_failure() { grep -q " 0 failed" "$1" && ! grep -q "^not ok" "$1"; }

start_rgw_s3 mem=384

check "conformance, path style, 1,100 keys" "$BC" s3://kubedb --secret-dir "$S3_SECRET" \
	--endpoint "$S3_ENDPOINT" --many 1100 --big-mib 24 >"$T_DIR/path.log" 2>&1
cat "$T_DIR/path.log"
check "path style: no failure" no_failure "$T_DIR/path.log"
check "path style: more than one page was listed" contains "$T_DIR/path.log" "ok - pagination: list every key"
check "path style: the append check ran" contains "$T_DIR/path.log" "ok - append to an existing object"
check "path style: list_uploads ran (not skipped)" \
	bash -c "grep -q '^ok - list_uploads shows an upload in progress' '$T_DIR/path.log'"
check "no multipart upload left open" no_open_uploads kubedb

check "conformance below a source prefix" "$BC" s3://kubedb/team-a/backups --secret-dir "$S3_SECRET" \
	--endpoint "$S3_ENDPOINT" --many 20 --big-mib 12 >"$T_DIR/prefix.log" 2>&1
check "prefix: no failure" no_failure "$T_DIR/prefix.log"

# virtual-host style: the bucket in the host name (kubedb.s3.localhost)
check "conformance, virtual-host style" "$BC" s3://kubedb --secret-dir "$S3_SECRET" \
	--endpoint "$RGW_VHOST_ENDPOINT" --addressing virtual --many 20 --big-mib 12 \
	>"$T_DIR/virtual.log" 2>&1
check "virtual-host: no failure" no_failure "$T_DIR/virtual.log"
check "virtual-host: the addressing was used" contains "$T_DIR/virtual.log" "virtual-host style"

# refusals of open(): a non-zero exit and a one-line reason naming the problem
refused() {
	local log=$1 want=$2; shift 2
	if "$@" >"$log" 2>&1; then
		echo "unexpectedly succeeded: $*" >&2
		return 1
	fi
	grep -q -- "^not ok - open.*$want" "$log" || { cat "$log" >&2; return 1; }
}
write_s3_secret "$T_DIR/bad" "$S3_KEY_ID" "not-the-key"
check "wrong secret key" refused "$T_DIR/badkey.log" \
	"access denied for AWS_ACCESS_KEY_ID=$S3_KEY_ID: check the secret (SignatureDoesNotMatch)" \
	"$BC" s3://kubedb --secret-dir "$T_DIR/bad" --endpoint "$S3_ENDPOINT"
check "the secret key is never printed" bash -c "! grep -q not-the-key '$T_DIR/badkey.log'"
write_s3_secret "$T_DIR/badid" "AKIANOSUCHKEY" "$S3_KEY"
check "unknown key id" refused "$T_DIR/badid.log" "access denied for AWS_ACCESS_KEY_ID=AKIANOSUCHKEY" \
	"$BC" s3://kubedb --secret-dir "$T_DIR/badid" --endpoint "$S3_ENDPOINT"
check "missing bucket" refused "$T_DIR/nobucket.log" "bucket 'no-such-bucket' does not exist at $S3_ENDPOINT" \
	"$BC" s3://no-such-bucket --secret-dir "$S3_SECRET" --endpoint "$S3_ENDPOINT"
mkdir -p "$T_DIR/nokey"
check "missing keys" refused "$T_DIR/nokey.log" "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY missing" \
	"$BC" s3://kubedb --secret-dir "$T_DIR/nokey" --endpoint "$S3_ENDPOINT"
dead=$(free_port)
start=$(date +%s)
check "unreachable endpoint" refused "$T_DIR/dead.log" "cannot reach http://127.0.0.1:$dead" \
	"$BC" s3://kubedb --secret-dir "$S3_SECRET" --endpoint "http://127.0.0.1:$dead"
check "unreachable endpoint: refused within 15 s" test $(($(date +%s) - start)) -le 15

# https: verification is on; CA_CERT_DATA makes a private CA trusted (an HTTPS front before RGW)
self_signed "$T_DIR/tls"
start_fault_proxy "$S3_ENDPOINT" --tls-cert "$T_DIR/tls/cert.pem" --tls-key "$T_DIR/tls/key.pem"
log "HTTPS front at $FP_URL"
check "https without the CA: refused" refused "$T_DIR/untrusted.log" "cannot reach $FP_URL: SSL certificate" \
	"$BC" s3://kubedb --secret-dir "$S3_SECRET" --endpoint "$FP_URL"
cp "$T_DIR/tls/cert.pem" "$S3_SECRET/CA_CERT_DATA"
chmod 600 "$S3_SECRET/CA_CERT_DATA"
check "conformance over https with CA_CERT_DATA" "$BC" s3://kubedb --secret-dir "$S3_SECRET" \
	--endpoint "$FP_URL" --many 20 --big-mib 12 >"$T_DIR/https.log" 2>&1
check "https: no failure" no_failure "$T_DIR/https.log"
printf 'garbage\n' >"$S3_SECRET/CA_CERT_DATA"
check "a CA_CERT_DATA that is no certificate: refused" refused "$T_DIR/badca.log" "CA_CERT_DATA holds no PEM certificate" \
	"$BC" s3://kubedb --secret-dir "$S3_SECRET" --endpoint "$FP_URL"
rm -f "$S3_SECRET/CA_CERT_DATA"

finish
