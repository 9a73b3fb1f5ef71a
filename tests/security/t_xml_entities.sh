#!/bin/bash
# The XML parser never resolves external entities and never expands entity bombs: listings (S3 and
# Azure) whose replies, rewritten by the fault proxy, declare an external entity pointing at a local file
# and at a local HTTP server, and a billion-laughs entity. The file's contents must not show up in the
# listing, the HTTP server must see no request, and the daemon must survive (EIO or a listing without the
# entity are both fine).
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/rgw.sh"
source "$SNAPFS_SRC/tests/lib/azure.sh"
source "$SNAPFS_SRC/tests/faults/proxy.sh"
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY

LEAK=xxeLEAKED$RANDOM
printf '%s' "$LEAK" >"$T_DIR/xxe.txt"
mkdir -p "$T_DIR/web"
printf '%s' "$LEAK" >"$T_DIR/web/xxe.txt"
WEB_PORT=$(free_port)
bg web /usr/bin/python3 -m http.server "$WEB_PORT" --bind 127.0.0.1 --directory "$T_DIR/web" >/dev/null
wait_http "http://127.0.0.1:$WEB_PORT/"
: >"$T_DIR/web.log"   # only requests from now on count

DTD="<!DOCTYPE r [<!ENTITY file SYSTEM \\\"file://$T_DIR/xxe.txt\\\"><!ENTITY net SYSTEM \\\"http://127.0.0.1:$WEB_PORT/xxe.txt\\\"><!ENTITY a \\\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\\\"><!ENTITY b \\\"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\\\"><!ENTITY c \\\"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\\\"><!ENTITY d \\\"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\\\"><!ENTITY e \\\"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\\\"><!ENTITY f \\\"&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;\\\">]>"

# try_listing MNT DIR NAME: list DIR through the mount; the leak must not appear, the daemon must live
try_listing() {
	local mnt=$1 dir=$2 name=$3 pid rc=0
	pid=$(cat "$T_DIR/snapfs-$(basename "$mnt").pid")
	timeout 60 ls -la "$dir" >"$T_DIR/$name.ls" 2>&1 || rc=$?
	log "$name: ls exit $rc: $(head -c 300 "$T_DIR/$name.ls" | tr '\n' ' ')"
	check "$name: the listing ended (no hang, no expansion blow-up)" test "$rc" -ne 124
	check "$name: the local file's contents do not show up" bash -c "! grep -q '$LEAK' '$T_DIR/$name.ls'"
	check "$name: no entity text was expanded into a name" bash -c "! grep -q aaaaaaaaaa '$T_DIR/$name.ls'"
	check "$name: the daemon is alive" kill -0 "$pid"
}

# ---------- S3 (ListObjectsV2) ----------
start_rgw_s3 mem=128
start_fault_proxy "$S3_ENDPOINT"
MNT=$T_DIR/mnt
mount_snapfs s3://kubedb "$MNT" --secret-dir "$S3_SECRET" --endpoint "$FP_URL" --cache-dir "$T_DIR/cache" \
	--meta-ttl 0 --retries 1
for i in 1 2 3; do
	echo x >"$T_DIR/f"
	s3put "$T_DIR/f" "kubedb/kubedb/demo/xxe$i/snap/plain"
done
s3_body() {
	echo "<?xml version=\\\"1.0\\\"?>$DTD<ListBucketResult><Name>kubedb</Name><Prefix>kubedb/demo/$1/snap/</Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><Delimiter>/</Delimiter><IsTruncated>false</IsTruncated><Contents><Key>kubedb/demo/$1/snap/$2</Key><LastModified>2026-11-25T16:21:20.000Z</LastModified><ETag>&quot;x&quot;</ETag><Size>2</Size></Contents><Contents><Key>kubedb/demo/$1/snap/plain</Key><LastModified>2026-11-25T16:21:20.000Z</LastModified><ETag>&quot;x&quot;</ETag><Size>2</Size></Contents></ListBucketResult>"
}
ls "$MNT/kubedb/demo/xxe1" "$MNT/kubedb/demo/xxe2" "$MNT/kubedb/demo/xxe3" >/dev/null
fp_rules "[{\"method\": \"GET\", \"query\": \"list-type=2\", \"path\": \"^/kubedb\", \"action\": \"mangle\", \"how\": \"body\", \"body\": \"$(s3_body xxe1 'n&file;')\"}]"
try_listing "$MNT" "$MNT/kubedb/demo/xxe1/snap" "s3 file entity"
fp_rules "[{\"method\": \"GET\", \"query\": \"list-type=2\", \"action\": \"mangle\", \"how\": \"body\", \"body\": \"$(s3_body xxe2 'n&net;')\"}]"
try_listing "$MNT" "$MNT/kubedb/demo/xxe2/snap" "s3 network entity"
fp_rules "[{\"method\": \"GET\", \"query\": \"list-type=2\", \"action\": \"mangle\", \"how\": \"body\", \"body\": \"$(s3_body xxe3 'n&f;')\"}]"
try_listing "$MNT" "$MNT/kubedb/demo/xxe3/snap" "s3 entity bomb"
check "the proxy served the rewritten listings" test "$(fp_get 's["injected"].get("mangle", 0)')" -ge 3
fp_reset
umount_snapfs "$MNT"

# ---------- Azure (List Blobs) ----------
start_azurite
start_fault_proxy "http://127.0.0.1:$AZ_PORT"
mount_snapfs azure://kubedb "$MNT" --secret-dir "$AZ_SECRET" --endpoint "$FP_URL/$AZ_ACCOUNT" \
	--cache-dir "$T_DIR/cache2" --meta-ttl 0 --retries 1
az_body() {
	echo "<?xml version=\\\"1.0\\\" encoding=\\\"utf-8\\\"?>$DTD<EnumerationResults ServiceEndpoint=\\\"http://127.0.0.1/devstoreaccount1\\\" ContainerName=\\\"kubedb\\\"><Prefix>kubedb/demo/$1/snap/</Prefix><Delimiter>/</Delimiter><Blobs><Blob><Name>kubedb/demo/$1/snap/$2</Name><Properties><Last-Modified>Wed, 25 Nov 2026 16:21:20 GMT</Last-Modified><Etag>0x1</Etag><Content-Length>2</Content-Length></Properties></Blob><Blob><Name>kubedb/demo/$1/snap/plain</Name><Properties><Last-Modified>Wed, 25 Nov 2026 16:21:20 GMT</Last-Modified><Etag>0x2</Etag><Content-Length>2</Content-Length></Properties></Blob></Blobs><NextMarker/></EnumerationResults>"
}
fp_rules "[{\"method\": \"GET\", \"query\": \"comp=list\", \"action\": \"mangle\", \"how\": \"body\", \"body\": \"$(az_body xxe1 'n&file;')\"}]"
try_listing "$MNT" "$MNT/kubedb/demo/xxe1/snap" "azure file entity"
fp_rules "[{\"method\": \"GET\", \"query\": \"comp=list\", \"action\": \"mangle\", \"how\": \"body\", \"body\": \"$(az_body xxe2 'n&net;')\"}]"
try_listing "$MNT" "$MNT/kubedb/demo/xxe2/snap" "azure network entity"
fp_rules "[{\"method\": \"GET\", \"query\": \"comp=list\", \"action\": \"mangle\", \"how\": \"body\", \"body\": \"$(az_body xxe3 'n&f;')\"}]"
try_listing "$MNT" "$MNT/kubedb/demo/xxe3/snap" "azure entity bomb"
check "the proxy served the rewritten listings" test "$(fp_get 's["injected"].get("mangle", 0)')" -ge 3
fp_reset
umount_snapfs "$MNT"

check "the parser never fetched the network entity" bash -c "! grep -q 'GET /xxe.txt' '$T_DIR/web.log'"
finish
