# 1 GiB through the mount, byte for byte: written with dd (Put Block per part, several in flight, one
# Put Block List), read back straight from Azurite with azcli (no snapfs code) and through a fresh mount
# (ranged GETs). Also times 512 MiB through the mount against one direct Put Blob of the same bytes.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/azure.sh"

start_azurite
MNT=$T_DIR/mnt
SNAP=$MNT/kubedb/demo/pg/big
mount_snapfs azure://kubedb "$MNT" --secret-dir "$AZ_SECRET" --endpoint "$AZ_ENDPOINT" \
	--cache-dir "$T_DIR/cache"
mkdir -p "$SNAP"

head -c 1G /dev/urandom >"$T_DIR/src"
check "dd 1 GiB into the mount" dd if="$T_DIR/src" of="$SNAP/one-gib" bs=1M status=none
check "size in Azurite" test "$(azcli size kubedb kubedb/demo/pg/big/one-gib)" = 1073741824
azcli get kubedb kubedb/demo/pg/big/one-gib "$T_DIR/back"
check "read back from Azurite: byte for byte" cmp "$T_DIR/src" "$T_DIR/back"
rm -f "$T_DIR/back"
check "no uncommitted blocks left" test "$(azcli uncommitted kubedb kubedb/demo/pg/big/one-gib)" = 0
check "the blob's snapfs_sha256 metadata is the file's SHA-256 (Put Block List)" \
	test "$(azcli meta kubedb kubedb/demo/pg/big/one-gib snapfs_sha256)" = "$(sha256sum <"$T_DIR/src" | cut -d' ' -f1)"
echo "a small one" >"$SNAP/small.txt"
check "a small blob's snapfs_sha256 metadata is its SHA-256 (Put Blob)" \
	test "$(azcli meta kubedb kubedb/demo/pg/big/small.txt snapfs_sha256)" = "$(echo "a small one" | sha256sum | cut -d' ' -f1)"

umount_snapfs "$MNT"
mount_snapfs azure://kubedb "$MNT" --secret-dir "$AZ_SECRET" --endpoint "$AZ_ENDPOINT" \
	--cache-dir "$T_DIR/cache2"
check "read back through a fresh mount: byte for byte" cmp "$T_DIR/src" "$SNAP/one-gib"

# 512 MiB: the mount (dd returns after close, i.e. after the commit) against curl's single Put Blob
head -c 512M "$T_DIR/src" >"$T_DIR/half"
rm -f "$T_DIR/src"
t0=$(date +%s%N)
dd if="$T_DIR/half" of="$SNAP/half" bs=1M status=none
t1=$(date +%s%N)
url="$AZ_ENDPOINT/kubedb/direct-half"
mapfile -t auth < <(azcli sign PUT "$url" 536870912 "x-ms-blob-type: BlockBlob")
hdrs=(-H "Expect:" -H "x-ms-blob-type: BlockBlob")
for h in "${auth[@]}"; do hdrs+=(-H "$h"); done
t2=$(date +%s%N)
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -T "$T_DIR/half" "${hdrs[@]}" "$url")
t3=$(date +%s%N)
check "direct Put Blob of 512 MiB" test "$code" = 201
mount_ms=$(((t1 - t0) / 1000000))
direct_ms=$(((t3 - t2) / 1000000))
log "512 MiB: through the mount ${mount_ms} ms, direct Put Blob ${direct_ms} ms"
# generous: the same server bounds both; a mount far slower than that is a regression
check "the mount is within 2x of a direct upload" test "$mount_ms" -lt $((2 * direct_ms + 2000))
check "512 MiB through the mount is intact" cmp "$T_DIR/half" "$SNAP/half"

umount_snapfs "$MNT"
finish
