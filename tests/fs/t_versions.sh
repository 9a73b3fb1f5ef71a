#!/bin/bash
# A file is read as one version (file://): replaced under a reader it reads whole or fails with EIO,
# and a file replaced behind the mount reads back as the new version even though the kernel still
# holds the old size (its writeback cache never takes a new size for a cached inode). A deleted file
# never shows again in a listing.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/versions.sh"

STORE=$T_DIR/store
MNT=$T_DIR/mnt
mkdir -p "$STORE/kubedb/ns/db/snap"
cat >"$T_DIR/put" <<EOS
#!/bin/sh
# a new object replaces the old one at once, as a store's PUT does
cp "\$1" "$STORE/kubedb/ns/db/snap/.f.tmp" && mv "$STORE/kubedb/ns/db/snap/.f.tmp" "$STORE/kubedb/ns/db/snap/f"
EOS
chmod +x "$T_DIR/put"
mount_snapfs "file://$STORE" "$MNT" --cache-dir "$T_DIR/cache" --meta-ttl 1
replace_rounds "$T_DIR/put" "$MNT/kubedb/ns/db/snap/f" 6
check "a replaced read is logged" grep -q "changed in the store while it was read" "$T_DIR/snapfs-mnt.log"
delete_list_rounds "$MNT/kubedb/ns/db/dl" 3
umount_snapfs "$MNT"
finish
