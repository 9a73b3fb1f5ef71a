#!/bin/bash
# Creates in a folder this mount made ask the store nothing before their PUT (cache/fresh.c): on RGW, 30
# files written into a new folder cost no HEAD of their keys, and every answer stays right: a file this
# mount stored is there after its close (stat, O_EXCL refuses it), an object another client puts into
# the folder shows once --meta-ttl has passed, and a renamed or removed-and-remade folder starts over.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/rgw.sh"

start_rgw mem=128
rgw_mkbucket kubedb
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN

# The knowledge lasts --meta-ttl after the folder's last use: 60 s here, so a slow machine's pause
# between two copies cannot expire it (with 1 s a loaded run saw a HEAD). The second mount below has 1 s
# to show another client's object.
MNT=$T_DIR/mnt
mount_snapfs s3://kubedb "$MNT" --secret-dir "$S3_SECRET" --endpoint "$S3_ENDPOINT" --cache-dir "$T_DIR/cache" \
	--log-level debug --meta-ttl 60
LOG=$T_DIR/snapfs-mnt.log
S=$MNT/kubedb/demo/pg/snap
K=kubedb/kubedb/demo/pg/snap
head -c 4096 /dev/urandom >"$T_DIR/small"

mkdir "$S/tree"
for i in $(seq 30); do cp "$T_DIR/small" "$S/tree/f-$i"; done
n=$(s3keys kubedb "kubedb/demo/pg/snap/tree/" | grep -c '/f-' || true)
check "30 files stored" [ "$n" -eq 30 ]
check "byte for byte" s3get "$K/tree/f-17" "$T_DIR/back"
check "the same bytes" same_file "$T_DIR/small" "$T_DIR/back"
heads=$(grep -c "http HEAD .*/tree/f-" "$LOG" || true)
check "no HEAD of a new file's key in a folder the mount made (saw $heads)" [ "$heads" -eq 0 ]
# a name the mount met is asked of the store again: it is there, whole
check "stat of a stored file after its close" [ "$(stat -c %s "$S/tree/f-3")" = 4096 ]
# excl_refused PATH: open(O_CREAT | O_EXCL) fails with EEXIST
excl_refused() {
	python3 -c '
import errno, os, sys
try:
	os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL)
except OSError as e:
	sys.exit(0 if e.errno == errno.EEXIST else 1)
sys.exit(1)' "$1"
}
check "O_EXCL refuses a file this mount stored" excl_refused "$S/tree/f-5"
check "its bytes are untouched" same_file "$T_DIR/small" "$S/tree/f-5"
# rename the folder: its new name knows nothing, the old one is gone
mv "$S/tree" "$S/tree2"
check "renamed folder: files read back" same_file "$T_DIR/small" "$S/tree2/f-9"
check "renamed folder: O_EXCL still refuses" excl_refused "$S/tree2/f-9"
# remove and make again: the old names are not there
rm -r "$S/tree2"
mkdir "$S/tree2"
check "a remade folder is empty" [ -z "$(ls -A "$S/tree2")" ]
cp "$T_DIR/small" "$S/tree2/f-1"
check "a file in the remade folder is stored" s3get "$K/tree2/f-1" "$T_DIR/back2"
umount_snapfs "$MNT"

# another client's object in a folder the mount made: seen once the mount's knowledge has expired
MNT1=$T_DIR/mnt1
mount_snapfs s3://kubedb "$MNT1" --secret-dir "$S3_SECRET" --endpoint "$S3_ENDPOINT" --cache-dir "$T_DIR/cache1" \
	--meta-ttl 1
mkdir "$MNT1/kubedb/demo/pg/snap/tree3"
cp "$T_DIR/small" "$MNT1/kubedb/demo/pg/snap/tree3/f-1"
s3put "$T_DIR/small" "$K/tree3/other"
check "another client's object shows after --meta-ttl" eventually test -f "$MNT1/kubedb/demo/pg/snap/tree3/other"
check "and reads whole" same_file "$T_DIR/small" "$MNT1/kubedb/demo/pg/snap/tree3/other"
umount_snapfs "$MNT1"
finish
