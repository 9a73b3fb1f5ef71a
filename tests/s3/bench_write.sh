#!/bin/bash
# Measures a 512 MiB write through an s3:// mount (cp and dd, until close returns: the object then exists)
# against a plain `curl --aws-sigv4 -T` upload of the same file to the same s3rver, and against curl doing
# the same multipart upload the mount does (8 MiB parts, 4 at a time, then CompleteMultipartUpload), which
# shows what s3rver's own assembly of the parts costs. Not a ctest test: run
#   SNAPFS_SRC=. SNAPFS_BUILD=build bash tests/s3/bench_write.sh [MiB] [runs] [snapfs options...]
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/s3.sh"
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN

MIB=${1:-512}
RUNS=${2:-3}
shift 2 || true
start_s3rver
head -c $((MIB * 1024 * 1024)) /dev/urandom >"$T_DIR/file.bin"

now() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'; }

# curl_multipart FILE KEY: CreateMultipartUpload, 8 MiB parts 4 at a time, CompleteMultipartUpload
mkdir -p "$T_DIR/parts"
split -b 8M -d -a 4 "$T_DIR/file.bin" "$T_DIR/parts/p"
curl_multipart() {
	local key=$1 id i=0 f
	rm -f "$T_DIR"/parts/*.hdr
	id=$(s3curl POST "kubedb/$key?uploads" | grep -o '<UploadId>[^<]*' | cut -d'>' -f2)
	for f in "$T_DIR"/parts/p[0-9][0-9][0-9][0-9]; do
		i=$((i + 1))
		echo "$i $f"
	done | xargs -P 4 -n 2 sh -c 's3() { curl -sS --fail -X PUT --aws-sigv4 aws:amz:us-east-1:s3 \
		--user "$S3_KEY_ID:$S3_KEY" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"; }
		s3 -H "Expect:" -T "$1" -D "$1.hdr" -o /dev/null "$S3_ENDPOINT/kubedb/'"$key"'?partNumber=$0&uploadId='"$id"'"'
	{
		echo "<CompleteMultipartUpload>"
		i=0
		for f in "$T_DIR"/parts/p[0-9][0-9][0-9][0-9]; do
			i=$((i + 1))
			echo "<Part><PartNumber>$i</PartNumber><ETag>$(grep -i '^etag:' "$f.hdr" | cut -d' ' -f2 | tr -d '\r')</ETag></Part>"
		done
		echo "</CompleteMultipartUpload>"
	} >"$T_DIR/complete.xml"
	s3curl POST "kubedb/$key?uploadId=$id" --data-binary @"$T_DIR/complete.xml" -o /dev/null
}

MNT=$T_DIR/mnt
mount_snapfs s3://kubedb "$MNT" --secret-dir "$S3_SECRET" --endpoint "$S3_ENDPOINT" --cache-dir "$T_DIR/cache" \
	"$@"
mkdir -p "$MNT/kubedb/bench/pg/snap"

for r in $(seq "$RUNS"); do
	t0=$(now)
	s3put "$T_DIR/file.bin" "kubedb/curl-$r.bin"
	t1=$(now)
	cp "$T_DIR/file.bin" "$MNT/kubedb/bench/pg/snap/cp-$r.bin"
	t2=$(now)
	dd if="$T_DIR/file.bin" of="$MNT/kubedb/bench/pg/snap/dd-$r.bin" bs=1M status=none
	t3=$(now)
	curl_multipart "curl-mp-$r.bin"
	t4=$(now)
	echo "run $r: curl -T $(secs "$t0" "$t1") s, cp $(secs "$t1" "$t2") s, dd bs=1M $(secs "$t2" "$t3") s," \
		"curl multipart $(secs "$t3" "$t4") s (${MIB} MiB)"
done
umount_snapfs "$MNT"
s3get kubedb/curl-mp-1.bin "$T_DIR/check.bin"
cmp "$T_DIR/file.bin" "$T_DIR/check.bin" || die "the curl multipart upload is not the file"
finish
