#!/bin/bash
# A mount that cannot work fails at once with one line that says why, names the key id (never the secret),
# and leaves nothing mounted: wrong secret key, unknown key id, missing bucket, unreachable endpoint,
# missing keys; against Ceph RGW, which checks every SigV4 signature. And a mount with good keys works.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/rgw.sh"

start_rgw_s3 mem=128

# try_mount NAME SOURCE SECRET_DIR ENDPOINT: run the daemon; keeps its stderr in $T_DIR/NAME.err
try_mount() {
	local name=$1 src=$2 sec=$3 ep=$4 rc=0 start
	mkdir -p "$T_DIR/mnt-$name"
	T_MOUNTS+=("$T_DIR/mnt-$name")
	start=$(date +%s)
	# no fallback to the environment of whoever runs the tests
	timeout 60 env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN "$SNAPFS" "$src" \
		"$T_DIR/mnt-$name" --secret-dir "$sec" --endpoint "$ep" --cache-dir "$T_DIR/cache-$name" \
		2>"$T_DIR/$name.err" || rc=$?
	echo "$rc" >"$T_DIR/$name.rc"
	echo $(($(date +%s) - start)) >"$T_DIR/$name.secs"
}

# failed NAME PATTERN: non-zero exit within 15 s, one line matching PATTERN, no secret in it, not mounted
failed() {
	local name=$1 pattern=$2
	[ "$(cat "$T_DIR/$name.rc")" -ne 0 ] || { echo "exit status 0" >&2; return 1; }
	[ "$(cat "$T_DIR/$name.secs")" -le 15 ] || { echo "took $(cat "$T_DIR/$name.secs") s" >&2; return 1; }
	[ "$(wc -l <"$T_DIR/$name.err")" -eq 1 ] || { cat "$T_DIR/$name.err" >&2; return 1; }
	grep -q -- "$pattern" "$T_DIR/$name.err" || { cat "$T_DIR/$name.err" >&2; return 1; }
	! grep -q -F -e "not-the-key" "$T_DIR/$name.err" || { echo "a secret was printed" >&2; return 1; }
	! mountpoint -q "$T_DIR/mnt-$name"
}

write_s3_secret "$T_DIR/badkey" "$S3_KEY_ID" "not-the-key"
try_mount badkey s3://kubedb "$T_DIR/badkey" "$S3_ENDPOINT"
check "wrong secret key: access denied, names the key id" \
	failed badkey "access denied for AWS_ACCESS_KEY_ID=$S3_KEY_ID: check the secret (SignatureDoesNotMatch)"

write_s3_secret "$T_DIR/badid" "AKIAEXAMPLEWRONG" "$S3_KEY"
try_mount badid s3://kubedb "$T_DIR/badid" "$S3_ENDPOINT"
check "unknown key id: access denied, names the key id" \
	failed badid "access denied for AWS_ACCESS_KEY_ID=AKIAEXAMPLEWRONG: check the secret"

try_mount nobucket s3://no-such-bucket/team-a "$S3_SECRET" "$S3_ENDPOINT"
check "missing bucket" failed nobucket "bucket 'no-such-bucket' does not exist at $S3_ENDPOINT"

dead=$(free_port)
try_mount unreachable s3://kubedb "$S3_SECRET" "http://127.0.0.1:$dead"
check "unreachable endpoint" failed unreachable "cannot reach http://127.0.0.1:$dead"

mkdir -p "$T_DIR/nosecret"
printf '%s' "$S3_KEY_ID" >"$T_DIR/nosecret/AWS_ACCESS_KEY_ID"
chmod 600 "$T_DIR/nosecret/AWS_ACCESS_KEY_ID"
try_mount nosecret s3://kubedb "$T_DIR/nosecret" "$S3_ENDPOINT"
check "missing AWS_SECRET_ACCESS_KEY" failed nosecret "AWS_SECRET_ACCESS_KEY missing"

try_mount badscheme s3://kubedb "$S3_SECRET" "ftp://127.0.0.1:$S3_PORT"
check "an endpoint that is not http(s)" failed badscheme "only http:// and https:// endpoints"

# the environment is the fallback for keys missing from the secret dir
mkdir -p "$T_DIR/mnt-env" "$T_DIR/empty"
T_MOUNTS+=("$T_DIR/mnt-env")
check "keys from the environment" env AWS_ACCESS_KEY_ID="$S3_KEY_ID" AWS_SECRET_ACCESS_KEY="$S3_KEY" "$SNAPFS" \
	s3://kubedb "$T_DIR/mnt-env" --secret-dir "$T_DIR/empty" --endpoint "$S3_ENDPOINT" --cache-dir "$T_DIR/cache-env"
check "the environment's keys work" bash -c "mkdir -p '$T_DIR/mnt-env/kubedb/ns/db/s' && echo hi >'$T_DIR/mnt-env/kubedb/ns/db/s/f'"
umount_snapfs "$T_DIR/mnt-env"

# good keys: a real mount works, every request signed right (RGW refuses any other)
mount_snapfs s3://kubedb "$T_DIR/mnt" --secret-dir "$S3_SECRET" --endpoint "$S3_ENDPOINT" \
	--cache-dir "$T_DIR/cache"
head -c 12000000 /dev/urandom >"$T_DIR/f.bin"
mkdir -p "$T_DIR/mnt/kubedb/demo/pg/snap"
check "write a 12 MB file" cp "$T_DIR/f.bin" "$T_DIR/mnt/kubedb/demo/pg/snap/f.bin"
check "and read it back" cmp "$T_DIR/f.bin" "$T_DIR/mnt/kubedb/demo/pg/snap/f.bin"
check "it is in the bucket" s3get kubedb/kubedb/demo/pg/snap/f.bin "$T_DIR/direct.bin"
check "byte for byte" cmp "$T_DIR/f.bin" "$T_DIR/direct.bin"
umount_snapfs "$T_DIR/mnt"

finish
