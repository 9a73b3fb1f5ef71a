#!/bin/bash
# Interop on Azurite: block blobs written by rclone (one Put Blob, and blocks under a block list) read
# back byte for byte through the mount with their sizes, after `ls` and after a remount; files written
# through the mount read back the same with rclone; a reader gets one version while rclone replaces
# the blob under it (If-Match on every ranged read); a deleted file never shows in a listing again.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/azure.sh"
source "$SNAPFS_SRC/tests/lib/versions.sh"
source "$SNAPFS_SRC/tests/lib/interop.sh"

start_azurite
# rclone 1.60 reaches an account at https://ACCOUNT.ENDPOINT or the emulator at its fixed port 10000; a
# container SAS URL takes it to this Azurite (a service SAS, signed with the account key)
SAS=$(python3 - <<'PY'
import base64, hashlib, hmac, os, urllib.parse
sv, sp, se, sr = "2019-12-12", "racwdl", "2099-01-01T00:00:00Z", "c"
sts = "\n".join([sp, "", se, "/blob/%s/kubedb" % os.environ["AZ_ACCOUNT"], "", "", "", sv, sr, "", "", "", "", "", ""])
sig = hmac.new(base64.b64decode(os.environ["AZ_KEY"]), sts.encode(), hashlib.sha256).digest()
print(urllib.parse.urlencode({"sv": sv, "sp": sp, "se": se, "sr": sr, "sig": base64.b64encode(sig).decode()}))
PY
)
export RCLONE_CONFIG_AZ_TYPE=azureblob RCLONE_CONFIG_AZ_SAS_URL="$AZ_ENDPOINT/kubedb?$SAS"
ic_mount() {
	mount_snapfs azure://kubedb "$1" --secret-dir "$AZ_SECRET" --endpoint "$AZ_ENDPOINT" --cache-dir "$T_DIR/cache" \
		--meta-ttl 1
}
ic_get() { rm -f "$2"; rclone copyto -q "az:kubedb/$1" "$2"; }
# rc_put LOCAL KEY: rclone uploads in 1 MiB blocks above 1 MiB
rc_put() { rclone copyto -q --azureblob-chunk-size 1M --azureblob-upload-cutoff 1M "$1" "az:kubedb/$2"; }

S=kubedb/ns/db/snap
rc_put "$(ic_data plain 70000)" "$S/plain.sql" && ic_wrote "$S/plain.sql" "$T_DIR/plain"
rc_put "$(ic_data blocks 3500000)" "$S/blocks.bin" && ic_wrote "$S/blocks.bin" "$T_DIR/blocks"
rc_put "$(ic_data odd 1234)" "$S/with space+ünï=%41.sql" && ic_wrote "$S/with space+ünï=%41.sql" "$T_DIR/odd"

interop_clients_to_mount
interop_mount_to_clients kubedb/ns/db/written

cat >"$T_DIR/put" <<EOS
#!/bin/sh
exec rclone copyto -q --azureblob-chunk-size 1M --azureblob-upload-cutoff 1M "\$1" "az:kubedb/$S/replaced.bin"
EOS
chmod +x "$T_DIR/put"
MNT=$T_DIR/mnt
ic_mount "$MNT"
replace_rounds "$T_DIR/put" "$MNT/$S/replaced.bin" 3
delete_list_rounds "$MNT/kubedb/ns/db/dl" 2
check "rm -r of the snapshot" rm -r "$MNT/kubedb/ns/db/snap"
umount_snapfs "$MNT"
check "no blob of it is left" test -z "$(rclone lsf -R "az:kubedb/$S/")"
finish
