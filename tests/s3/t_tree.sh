#!/bin/bash
# Folders and names through an s3:// mount on RGW: a folder of more than 1,000 files (ListObjectsV2 pages
# with continuation tokens), rm -r of it (DeleteObjects batches), rename of a file and of a folder
# (CopyObject + delete), and objects written by another client (curl) showing up through the mount.
# What the bucket holds is checked with curl, not through snapfs.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/rgw.sh"
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN

start_rgw_s3 mem=256
MNT=$T_DIR/mnt
mount_snapfs s3://kubedb "$MNT" --secret-dir "$S3_SECRET" --endpoint "$S3_ENDPOINT" --cache-dir "$T_DIR/cache" \
	--meta-ttl 1
DB=$MNT/kubedb/demo/pg
P=kubedb/demo/pg

# 1,100 files in one folder, written by the writer through the mount: more than one ListObjectsV2 page
mkdir -p "$DB/many"
for i in $(seq 1 1100); do
	printf 'file %d\n' "$i" >"$DB/many/f$i.txt"
done
check "the bucket holds 1,100 objects below the folder" test "$(s3keys kubedb "$P/many/" | grep -c '\.txt$')" = 1100
umount_snapfs "$MNT"
mount_snapfs s3://kubedb "$MNT" --secret-dir "$S3_SECRET" --endpoint "$S3_ENDPOINT" --cache-dir "$T_DIR/cache2" \
	--meta-ttl 1
check "ls lists all 1,100 files (fresh mount)" test "$(ls "$DB/many" | wc -l)" = 1100
check "ls shows the last one by name" test -f "$DB/many/f1100.txt"
check "find sees every file" test "$(find "$DB/many" -type f | wc -l)" = 1100
check "a file's contents" test "$(cat "$DB/many/f777.txt")" = "file 777"

# rm -r: DeleteObjects in batches of up to 1,000
check "rm -r of the folder" rm -r "$DB/many"
# (a snapshot-level name is always a valid folder to write into, so "gone" means: not listed)
check "the folder is gone from the listing" bash -c "! ls '$DB' | grep -qx many"
check "no object is left below it in the bucket" test -z "$(s3keys kubedb "$P/many/")"

# rename a file: the new name has the bytes, the old one is gone
mkdir -p "$DB/snap1"
head -c 7000000 /dev/urandom >"$T_DIR/r.bin"
cp "$T_DIR/r.bin" "$DB/snap1/dumpfile.sql"
check "mv a file" mv "$DB/snap1/dumpfile.sql" "$DB/snap1/renamed.sql"
check "the new name reads the same bytes" cmp "$T_DIR/r.bin" "$DB/snap1/renamed.sql"
check "the old name is gone" test ! -e "$DB/snap1/dumpfile.sql"
check "the bucket has the new key" s3get "kubedb/$P/snap1/renamed.sql" "$T_DIR/r-direct.bin"
check "the bucket's object is the file" cmp "$T_DIR/r.bin" "$T_DIR/r-direct.bin"
check "the bucket no longer has the old key" bash -c "! s3curl HEAD 'kubedb/$P/snap1/dumpfile.sql' -I >/dev/null 2>&1"

# rename a folder (a snapshot): every key moves
echo small >"$DB/snap1/meta.json"
check "mv a folder" mv "$DB/snap1" "$DB/snap2"
check "the folder's files under the new name" cmp "$T_DIR/r.bin" "$DB/snap2/renamed.sql"
check "the old folder is gone from the listing" bash -c "! ls '$DB' | grep -qx snap1"
check "the new folder is listed" bash -c "ls '$DB' | grep -qx snap2"
check "no key is left under the old folder" test -z "$(s3keys kubedb "$P/snap1/")"
check "the keys are under the new folder" test "$(s3keys kubedb "$P/snap2/" | grep -c -v '/$')" = 2

# an object another client writes appears through the mount (metadata TTL 1 s)
ls "$DB/snap2" >/dev/null
printf 'from curl\n' >"$T_DIR/outside.txt"
check "curl PUT an object into the snapshot folder" s3put "$T_DIR/outside.txt" "kubedb/$P/snap2/outside.txt"
sleep 2
check "the mount lists it" bash -c "ls '$DB/snap2' | grep -qx outside.txt"
check "the mount reads it" test "$(cat "$DB/snap2/outside.txt")" = "from curl"
# and one replaced by another client shows its new size and contents. Known limit: with the kernel's
# writeback cache on, the kernel keeps its own size for a file inode it still holds, so a replaced
# object shows its new size once the kernel lets go of the inode (here: drop_caches; in practice
# memory pressure or a remount). README, "Metadata".
printf 'changed by curl, longer\n' >"$T_DIR/outside2.txt"
s3put "$T_DIR/outside2.txt" "kubedb/$P/snap2/outside.txt"
sleep 2
sync
echo 2 >/proc/sys/vm/drop_caches
check "the mount sees the new size" test "$(stat -c %s "$DB/snap2/outside.txt")" = 24
check "the mount sees the new contents" test "$(cat "$DB/snap2/outside.txt")" = "changed by curl, longer"

umount_snapfs "$MNT"
finish
