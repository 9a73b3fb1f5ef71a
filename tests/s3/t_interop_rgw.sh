#!/bin/bash
# Interop on Ceph RGW's S3 API: objects written by boto3 (a multipart upload, a plain put, odd names)
# and rclone (multipart) read back byte for byte through the mount with their sizes, after `ls` and
# after a remount; files written through the mount read back the same with boto3; a reader gets one
# version while boto3 replaces the object under it; a deleted file never shows in a listing again
# (the race seen on RGW: a listing answered before a batch delete finished).
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/rgw.sh"
source "$SNAPFS_SRC/tests/lib/versions.sh"
source "$SNAPFS_SRC/tests/lib/interop.sh"

start_rgw mem=384
rgw_mkbucket kubedb
/usr/bin/python3 -c 'import boto3' 2>/dev/null || die "boto3 is not installed (python3-boto3, tools/deps.sh)"
export RCLONE_CONFIG_RG_TYPE=s3 RCLONE_CONFIG_RG_PROVIDER=Ceph RCLONE_CONFIG_RG_ENDPOINT=$S3_ENDPOINT \
	RCLONE_CONFIG_RG_ACCESS_KEY_ID=$S3_KEY_ID RCLONE_CONFIG_RG_SECRET_ACCESS_KEY=$S3_KEY

# b3 put|get LOCAL KEY: boto3 with 5 MiB parts (a multipart upload above 5 MiB)
cat >"$T_DIR/b3.py" <<'EOS'
import sys, os, boto3
from boto3.s3.transfer import TransferConfig
s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT"], aws_access_key_id=os.environ["S3_KEY_ID"],
                  aws_secret_access_key=os.environ["S3_KEY"], region_name="us-east-1")
cfg = TransferConfig(multipart_threshold=5 << 20, multipart_chunksize=5 << 20)
op, local, key = sys.argv[1:4]
if op == "put":
    s3.upload_file(local, "kubedb", key, Config=cfg)
elif op == "etag":
    print(s3.head_object(Bucket="kubedb", Key=key)["ETag"])
else:
    s3.download_file("kubedb", key, local, Config=cfg)
EOS
b3() { /usr/bin/python3 "$T_DIR/b3.py" "$@"; }
ic_mount() {
	mount_snapfs s3://kubedb "$1" --secret-dir "$S3_SECRET" --endpoint "$S3_ENDPOINT" --cache-dir "$T_DIR/cache" \
		--meta-ttl 1
}
ic_get() { b3 get "$2" "$1"; }

S=kubedb/ns/db/snap
b3 put "$(ic_data plain 70000)" "$S/plain.sql" && ic_wrote "$S/plain.sql" "$T_DIR/plain"
b3 put "$(ic_data mp 11534336)" "$S/multipart.bin" && ic_wrote "$S/multipart.bin" "$T_DIR/mp"
b3 put "$(ic_data odd 1234)" "$S/with space+ünï=%41.sql" && ic_wrote "$S/with space+ünï=%41.sql" "$T_DIR/odd"
rclone copyto -q --s3-upload-cutoff 5M --s3-chunk-size 5M "$(ic_data rc 11000000)" "rg:kubedb/$S/rclone.bin" &&
	ic_wrote "$S/rclone.bin" "$T_DIR/rc"
etag=$(b3 etag - "$S/multipart.bin")
check "boto3 wrote a multipart object of 3 parts (ETag $etag)" bash -c '[[ $1 == *-3\" ]]' _ "$etag"

interop_clients_to_mount
interop_mount_to_clients kubedb/ns/db/written

cat >"$T_DIR/put" <<EOS
#!/bin/sh
exec /usr/bin/python3 "$T_DIR/b3.py" put "\$1" $S/replaced.bin
EOS
chmod +x "$T_DIR/put"
MNT=$T_DIR/mnt
ic_mount "$MNT"
replace_rounds "$T_DIR/put" "$MNT/$S/replaced.bin" 3
delete_list_rounds "$MNT/kubedb/ns/db/dl" 3
check "rm -r of the snapshot" rm -r "$MNT/kubedb/ns/db/snap"

# keys no file system can show: a file "a" with a folder a/ beside it, an empty component "x//y"
U=kubedb/ns/db/odd
for k in "$U/a" "$U/a/b" "$U/x//y" "$U/fine"; do b3 put "$T_DIR/plain" "$k"; done
ls -la "$MNT/$U" "$MNT/$U/x" >/dev/null 2>&1 || true
check "the listing names a/b's file-and-folder clash in the log" \
	eventually grep -q "$U/a/, which no file system can show (a file and a folder of the same name" "$T_DIR/snapfs-mnt.log"
check "and x//y's empty component" \
	eventually grep -q "$U/x//, which no file system can show (an empty path component" "$T_DIR/snapfs-mnt.log"
"$SNAPFS_BUILD/snapctl" describe s3://kubedb ns/db/odd --secret-dir "$S3_SECRET" --endpoint "$S3_ENDPOINT" \
	>"$T_DIR/describe.txt" 2>&1 || true
check "snapctl describe lists a/b as unreachable" grep -q "^  a/b   (below a name that is also a file)" "$T_DIR/describe.txt"
check "snapctl describe lists x//y as unreachable" grep -q "^  x//y   (an empty path component" "$T_DIR/describe.txt"
check "snapctl describe does not list the others" bash -c '! grep -q "^  fine   (\|^  a   (" "$1"' _ "$T_DIR/describe.txt"
"$SNAPFS_BUILD/snapctl" ls s3://kubedb ns/db --secret-dir "$S3_SECRET" --endpoint "$S3_ENDPOINT" \
	>/dev/null 2>"$T_DIR/ls.err" || true
check "snapctl ls notes them" grep -q "ns/db/odd holds 2 keys no mount can show" "$T_DIR/ls.err"
umount_snapfs "$MNT"
check "no object of it is left" test -z "$(rclone lsf -R "rg:kubedb/$S/")"
check "no multipart upload left open" no_open_uploads kubedb
finish
