#!/bin/bash
# The smallest proof that the tests' Ceph RADOS Gateway (tests/lib/rgw.sh) serves snapfs: a mount against
# it writes a file of several parts that reads back byte for byte, through the mount and straight from the
# bucket, in path style and in virtual-host style (RGW's "rgw dns name" is s3.localhost; curl resolves
# kubedb.s3.localhost to the loopback itself); a wrong secret (which RGW, unlike s3rver, checks) fails the
# mount at once with one line.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/rgw.sh"

start_rgw mem=128
rgw_mkbucket kubedb
# no fallback to the environment of whoever runs the tests
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN

MNT=$T_DIR/mnt
mount_snapfs s3://kubedb "$MNT" --secret-dir "$S3_SECRET" --endpoint "$S3_ENDPOINT" --cache-dir "$T_DIR/cache"
head -c 13000000 /dev/urandom >"$T_DIR/f.bin"
S=$MNT/kubedb/demo/pg/snap
mkdir -p "$S"
check "write a 13 MB file (two parts)" cp "$T_DIR/f.bin" "$S/f.bin"
check "read it back through the mount" same_file "$T_DIR/f.bin" "$S/f.bin"
check "it is in the bucket" s3get kubedb/kubedb/demo/pg/snap/f.bin "$T_DIR/direct.bin"
check "byte for byte" same_file "$T_DIR/f.bin" "$T_DIR/direct.bin"
check "no multipart upload left open" no_open_uploads kubedb
umount_snapfs "$MNT"

# virtual-host style: the bucket in the host name
VMNT=$T_DIR/vmnt
mount_snapfs s3://kubedb "$VMNT" --secret-dir "$S3_SECRET" --endpoint "$RGW_VHOST_ENDPOINT" --addressing virtual \
	--cache-dir "$T_DIR/vcache"
check "virtual-host: the mount says so" grep -q "virtual-host style" "$T_DIR/snapfs-vmnt.log"
check "virtual-host: the path-style file reads back" same_file "$T_DIR/f.bin" "$VMNT/kubedb/demo/pg/snap/f.bin"
head -c 7000000 /dev/urandom >"$T_DIR/v.bin"
check "virtual-host: write a 7 MB file" cp "$T_DIR/v.bin" "$VMNT/kubedb/demo/pg/snap/v.bin"
check "virtual-host: it is in the bucket" s3get kubedb/kubedb/demo/pg/snap/v.bin "$T_DIR/vdirect.bin"
check "virtual-host: byte for byte" same_file "$T_DIR/v.bin" "$T_DIR/vdirect.bin"
umount_snapfs "$VMNT"

rgw_s3_secret "$T_DIR/bad" "$S3_KEY_ID" not-the-key
mkdir -p "$T_DIR/mnt-bad"
T_MOUNTS+=("$T_DIR/mnt-bad")
rc=0
timeout 60 "$SNAPFS" s3://kubedb "$T_DIR/mnt-bad" --secret-dir "$T_DIR/bad" --endpoint "$S3_ENDPOINT" \
	--cache-dir "$T_DIR/cache-bad" 2>"$T_DIR/bad.err" || rc=$?
cat "$T_DIR/bad.err"
check "a wrong secret fails the mount" test "$rc" -ne 0
check "with one line" test "$(wc -l <"$T_DIR/bad.err")" -eq 1
check "that names the key id and the refusal" \
	grep -q "access denied for AWS_ACCESS_KEY_ID=$S3_KEY_ID: check the secret (SignatureDoesNotMatch)" "$T_DIR/bad.err"
check "and never the secret" bash -c "! grep -q not-the-key '$T_DIR/bad.err'"
check "nothing is mounted" bash -c "! mountpoint -q '$T_DIR/mnt-bad'"
finish
