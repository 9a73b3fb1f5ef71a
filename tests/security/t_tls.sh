#!/bin/bash
# TLS verification is on by default: RGW behind an HTTPS front (the fault proxy with a self-signed
# certificate made here by openssl) is refused with a one-line reason naming the TLS problem; trusting
# the certificate through CA_CERT_DATA in the secret dir makes the same mount work, and the bytes land in
# the store. A trusted certificate for another host name is still refused (host name verification).
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/rgw.sh"
source "$SNAPFS_SRC/tests/faults/proxy.sh"
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN CA_CERT_DATA SSL_CERT_FILE CURL_CA_BUNDLE

start_rgw_s3 mem=128
self_signed "$T_DIR/tls"
start_fault_proxy "$S3_ENDPOINT" --tls-cert "$T_DIR/tls/cert.pem" --tls-key "$T_DIR/tls/key.pem"
GOOD_URL=$FP_URL
check "the HTTPS front answers (curl with the CA)" \
	curl -sf --cacert "$T_DIR/tls/cert.pem" -o /dev/null "$GOOD_URL/__fault/stats"

# a second front whose certificate is for another name
mkdir -p "$T_DIR/other"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=wrong.example -addext "subjectAltName=DNS:wrong.example" \
	-keyout "$T_DIR/other/key.pem" -out "$T_DIR/other/cert.pem" >/dev/null 2>&1
start_fault_proxy "$S3_ENDPOINT" --tls-cert "$T_DIR/other/cert.pem" --tls-key "$T_DIR/other/key.pem"
WRONG_URL=$FP_URL

MNT=$T_DIR/mnt
mkdir -p "$MNT"
# refused_one_line NAME: the mount failed (non-zero), is not mounted, and said why in one line about TLS
refused_one_line() {
	local err=$T_DIR/$1.err
	[ "$(grep -c . "$err")" -eq 1 ] || { echo "expected one line, got:" >&2; cat "$err" >&2; return 1; }
	# (the work dir's name holds "tls": look at the message without it)
	sed "s|$T_DIR||g" "$err" | grep -qiE 'certificate|tls|ssl' || { echo "no TLS reason in:" >&2; cat "$err" >&2; return 1; }
	! mountpoint -q "$MNT"
}

# 1. default: the self-signed certificate is refused
rc=0
"$SNAPFS" s3://kubedb "$MNT" --secret-dir "$S3_SECRET" --endpoint "$GOOD_URL" --cache-dir "$T_DIR/cache" \
	--timeout 5 --retries 1 --log-file "$T_DIR/snapfs-default.log" 2>"$T_DIR/default.err" || rc=$?
mountpoint -q "$MNT" && T_MOUNTS+=("$MNT")
log "refused with: $(cat "$T_DIR/default.err")"
check "a self-signed endpoint is refused by default (exit $rc)" test "$rc" -ne 0
check "the refusal is one line naming the TLS problem" refused_one_line default

# 2. CA_CERT_DATA that holds no certificate: refused with a reason
cp -a "$S3_SECRET" "$T_DIR/bad-ca-secret"
printf 'not a certificate\n' >"$T_DIR/bad-ca-secret/CA_CERT_DATA"
chmod 600 "$T_DIR/bad-ca-secret/CA_CERT_DATA"
rc=0
"$SNAPFS" s3://kubedb "$MNT" --secret-dir "$T_DIR/bad-ca-secret" --endpoint "$GOOD_URL" --cache-dir "$T_DIR/cache" \
	--timeout 5 --retries 1 --log-file "$T_DIR/snapfs-badca.log" 2>"$T_DIR/badca.err" || rc=$?
mountpoint -q "$MNT" && T_MOUNTS+=("$MNT")
check "a CA_CERT_DATA without a certificate fails the mount (exit $rc)" test "$rc" -ne 0
check "and says so in one line" bash -c "[ \$(grep -c . '$T_DIR/badca.err') -eq 1 ] && grep -q CA_CERT_DATA '$T_DIR/badca.err'"

# 3. the certificate trusted through CA_CERT_DATA: the mount works
cp -a "$S3_SECRET" "$T_DIR/ca-secret"
cp "$T_DIR/tls/cert.pem" "$T_DIR/ca-secret/CA_CERT_DATA"
chmod 600 "$T_DIR/ca-secret/CA_CERT_DATA"
check "with CA_CERT_DATA the HTTPS endpoint mounts" \
	mount_snapfs s3://kubedb "$MNT" --secret-dir "$T_DIR/ca-secret" --endpoint "$GOOD_URL" --cache-dir "$T_DIR/cache" \
		--timeout 5 --part-size 5M
head -c 12M /dev/urandom >"$T_DIR/data.bin"
check "a 12 MiB write over TLS (multipart)" cp "$T_DIR/data.bin" "$MNT/kubedb/demo/pg/tls/data.bin"
check "read back over TLS" cmp "$T_DIR/data.bin" "$MNT/kubedb/demo/pg/tls/data.bin"
check "the object reached RGW" s3get kubedb/kubedb/demo/pg/tls/data.bin "$T_DIR/direct.bin"
check "byte for byte" cmp "$T_DIR/data.bin" "$T_DIR/direct.bin"
mountpoint -q "$MNT" && umount_snapfs "$MNT"

# 4. trusted, but for another host name: refused
cp -a "$S3_SECRET" "$T_DIR/other-secret"
cp "$T_DIR/other/cert.pem" "$T_DIR/other-secret/CA_CERT_DATA"
chmod 600 "$T_DIR/other-secret/CA_CERT_DATA"
rc=0
"$SNAPFS" s3://kubedb "$MNT" --secret-dir "$T_DIR/other-secret" --endpoint "$WRONG_URL" --cache-dir "$T_DIR/cache" \
	--timeout 5 --retries 1 --log-file "$T_DIR/snapfs-wrongname.log" 2>"$T_DIR/wrongname.err" || rc=$?
mountpoint -q "$MNT" && T_MOUNTS+=("$MNT")
log "refused with: $(cat "$T_DIR/wrongname.err")"
check "a trusted certificate for another host name is refused (exit $rc)" test "$rc" -ne 0
check "the refusal is one line naming the TLS problem" refused_one_line wrongname
finish
