#!/bin/bash
# No secret reaches a log at any level: mounts at --log-level debug doing real work (a multipart write, a
# small write, reads, listings, a rename, a delete) and mounts refused for a wrong key; every byte they
# printed (log files and stderr) is searched for every secret value. Azure (Azurite) is the store whose
# key differs from its key id; S3 (Ceph RGW, which checks every signature) is checked with refused
# credentials of its own: an unknown key id, and the real key id with a wrong secret. Also: a secret file readable by others draws a warning, and the mount does not use
# allow_other unless asked (/proc/mounts).
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/azure.sh"
source "$SNAPFS_SRC/tests/lib/rgw.sh"
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AZURE_ACCOUNT_NAME AZURE_ACCOUNT_KEY

start_azurite
start_rgw_s3 mem=128
OUT=$T_DIR/out
mkdir -p "$OUT"

# ---------- Azure: real work at debug level ----------
MNT=$T_DIR/mnt
mount_snapfs azure://kubedb "$MNT" --secret-dir "$AZ_SECRET" --endpoint "$AZ_ENDPOINT" --cache-dir "$T_DIR/cache" \
	--part-size 5M --log-level debug 2>"$OUT/az-mount.stderr"
SNAP=$MNT/kubedb/demo/pg/snap1
head -c 23M /dev/urandom >"$T_DIR/big.bin"
check "a multipart write" cp "$T_DIR/big.bin" "$SNAP/big.bin"
echo "small file" >"$T_DIR/small.txt"
check "a small write" cp "$T_DIR/small.txt" "$SNAP/small.txt"
check "read back" cmp "$T_DIR/big.bin" "$SNAP/big.bin"
check "listing" bash -c "ls -l '$SNAP' | grep -q small.txt"
check "rename" mv "$SNAP/small.txt" "$SNAP/renamed.txt"
check "delete" rm "$SNAP/renamed.txt"
check "the debug log was really written at debug level" grep -q "debug" "$T_DIR/snapfs-mnt.log"
umount_snapfs "$MNT"

# a wrong key (well-formed base64): the mount is refused
WRONG_AZ_KEY=$(head -c 64 /dev/urandom | base64 -w0)
mkdir -p "$T_DIR/az-wrong"
write_azure_secret "$T_DIR/az-wrong" "$AZ_ACCOUNT" "$WRONG_AZ_KEY"
rc=0
"$SNAPFS" azure://kubedb "$MNT" --secret-dir "$T_DIR/az-wrong" --endpoint "$AZ_ENDPOINT" --cache-dir "$T_DIR/cache" \
	--log-level debug --log-file "$OUT/az-wrong.log" 2>"$OUT/az-wrong.stderr" || rc=$?
mountpoint -q "$MNT" && T_MOUNTS+=("$MNT")
check "a wrong Azure key fails the mount (exit $rc)" test "$rc" -ne 0
check "with a one-line reason naming the account" \
	bash -c "[ \$(grep -c . '$OUT/az-wrong.stderr') -eq 1 ] && grep -q '$AZ_ACCOUNT' '$OUT/az-wrong.stderr'"

# ---------- S3: refused credentials at debug level ----------
# (an unknown key id, then RGW's own key id with a wrong secret: the signature is refused; the secrets
# beside them are what must not be printed)
WRONG_S3_ID=AKIAWRONGKEYID0001
WRONG_S3_SECRET="Wr0ng/S3cret+$(head -c 12 /dev/urandom | base64 -w0 | tr -d '/+=')"
mkdir -p "$T_DIR/s3-wrong"
write_s3_secret "$T_DIR/s3-wrong" "$WRONG_S3_ID" "$WRONG_S3_SECRET"
rc=0
"$SNAPFS" s3://kubedb "$MNT" --secret-dir "$T_DIR/s3-wrong" --endpoint "$S3_ENDPOINT" --cache-dir "$T_DIR/cache" \
	--log-level debug --log-file "$OUT/s3-wrong.log" 2>"$OUT/s3-wrong.stderr" || rc=$?
mountpoint -q "$MNT" && T_MOUNTS+=("$MNT")
check "refused S3 credentials fail the mount (exit $rc)" test "$rc" -ne 0
check "with a one-line reason naming the key id" \
	bash -c "[ \$(grep -c . '$OUT/s3-wrong.stderr') -eq 1 ] && grep -q '$WRONG_S3_ID' '$OUT/s3-wrong.stderr'"
WRONG_S3_SECRET2="Wr0ng/S3cret+$(head -c 12 /dev/urandom | base64 -w0 | tr -d '/+=')"
write_s3_secret "$T_DIR/s3-wrong2" "$S3_KEY_ID" "$WRONG_S3_SECRET2"
rc=0
"$SNAPFS" s3://kubedb "$MNT" --secret-dir "$T_DIR/s3-wrong2" --endpoint "$S3_ENDPOINT" --cache-dir "$T_DIR/cache" \
	--log-level debug --log-file "$OUT/s3-wrong2.log" 2>"$OUT/s3-wrong2.stderr" || rc=$?
mountpoint -q "$MNT" && T_MOUNTS+=("$MNT")
check "a wrong secret for a real key id fails the mount (exit $rc)" test "$rc" -ne 0
check "with one line: the signature was refused" bash -c "[ \$(grep -c . '$OUT/s3-wrong2.stderr') -eq 1 ] &&
	grep -q 'SignatureDoesNotMatch' '$OUT/s3-wrong2.stderr'"

# ---------- search everything printed for the secrets ----------
cp "$T_DIR"/snapfs-*.log "$OUT"/ 2>/dev/null || true
log "searching $(cat "$OUT"/* | wc -c) bytes of logs and stderr"
no_secret() {
	local what=$1 val=$2
	# the whole value, and any 16-character piece of it (a truncated or wrapped copy)
	if grep -rlF -- "$val" "$OUT" >&2; then echo "$what found" >&2; return 1; fi
	local i
	for ((i = 0; i + 16 <= ${#val}; i += 8)); do
		if grep -rlF -- "${val:i:16}" "$OUT" >&2; then echo "a piece of $what found: ${val:i:16}" >&2; return 1; fi
	done
}
check "the Azure account key is in no log or stderr" no_secret AZURE_ACCOUNT_KEY "$AZ_KEY"
check "the wrong Azure key is in no log or stderr" no_secret "the wrong Azure key" "$WRONG_AZ_KEY"
check "the refused S3 secret is in no log or stderr" no_secret "the wrong S3 secret" "$WRONG_S3_SECRET"
check "the wrong S3 secret of a real key id is in no log or stderr" no_secret "the wrong S3 secret" "$WRONG_S3_SECRET2"
# a request signature is a credential too (it authorizes that request for minutes)
check "no Authorization header or signature is logged" \
	bash -c "! grep -riE 'authorization:|SharedKey [^ ]+:|Signature=' '$OUT'"

# ---------- a secret file readable by others draws a warning ----------
cp -a "$AZ_SECRET" "$T_DIR/az-open"
chmod 644 "$T_DIR/az-open/AZURE_ACCOUNT_KEY"
MNT2=$T_DIR/mnt2
mount_snapfs azure://kubedb "$MNT2" --secret-dir "$T_DIR/az-open" --endpoint "$AZ_ENDPOINT" --cache-dir "$T_DIR/cache2" \
	2>"$T_DIR/open.stderr"
check "a key file with mode 0644 draws a warning naming it" \
	bash -c "cat '$T_DIR/open.stderr' '$T_DIR/snapfs-mnt2.log' | grep -i 'warn' | grep -q AZURE_ACCOUNT_KEY"
check "the warning does not quote the key" bash -c "! grep -qF -- '$AZ_KEY' '$T_DIR/open.stderr' '$T_DIR/snapfs-mnt2.log'"

# ---------- allow_other only when asked ----------
opts() { awk -v m="$1" '$2 == m { print $4 }' /proc/mounts; }
log "mount options: $(opts "$MNT2")"
check "the mount is in /proc/mounts" test -n "$(opts "$MNT2")"
check "no allow_other by default" bash -c "! grep -qw allow_other <<<'$(opts "$MNT2")'"
umount_snapfs "$MNT2"
mount_snapfs azure://kubedb "$MNT2" --secret-dir "$AZ_SECRET" --endpoint "$AZ_ENDPOINT" --cache-dir "$T_DIR/cache2" \
	--allow-other
log "mount options with --allow-other: $(opts "$MNT2")"
check "allow_other when asked" grep -qw allow_other <<<"$(opts "$MNT2")"
umount_snapfs "$MNT2"
finish
