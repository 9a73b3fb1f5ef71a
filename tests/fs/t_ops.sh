#!/usr/bin/env bash
# The file system operations on a file:// mount, with real tools: concurrent writers, append,
# overwrite, truncate, rename of a file and of a snapshot, rm -r, mkdir/rmdir, tar, refused paths.
source "$SNAPFS_SRC/tests/lib/common.sh"

STORE=$T_DIR/store
M=$T_DIR/mnt
mkdir -p "$STORE"
mount_snapfs "file://$STORE" "$M" --cache-dir "$T_DIR/cache" --part-size 4M --cache-size 64M --meta-ttl 1
K=$M/kubedb
S=$STORE/kubedb

# --- the root and the layout
check "the root holds only kubedb" test "$(ls "$M")" = kubedb
check "a file at the root is refused" bash -c "! echo x > '$M/stray.txt' 2>/dev/null"
check "a folder at the root is refused" bash -c "! mkdir '$M/other' 2>/dev/null"
check "a file directly in kubedb/ is refused" bash -c "! echo x > '$K/x.sql' 2>/dev/null"
check "a file at the database level is refused" bash -c "! echo x > '$K/demo/pg/x.sql' 2>/dev/null"
check "an invalid namespace name is refused" bash -c "! mkdir '$K/Bad_NS' 2>/dev/null"
check "an invalid snapshot name is refused" bash -c "! mkdir -p '$K/demo/pg/Snap!' 2>/dev/null"
check "the refusal is logged with what the layout expects" grep -q "NAMESPACE/DATABASE/SNAPSHOT" "$T_DIR/snapfs-mnt.log"
check "nothing reached the store for refused paths" test -z "$(find "$STORE" -name 'stray.txt' -o -name 'x.sql' -o -name 'Bad_NS')"

# --- concurrent writers into different snapshots
for i in 1 2 3 4; do
	head -c $((9 * 1024 * 1024 + i * 1000)) /dev/urandom >"$T_DIR/src$i"
done
for i in 1 2 3 4; do
	cp "$T_DIR/src$i" "$K/ns$i/db/snap$i/file.bin" &
done
wait
for i in 1 2 3 4; do
	check "concurrent writer $i stored its bytes" cmp -s "$T_DIR/src$i" "$S/ns$i/db/snap$i/file.bin"
done

# --- append and overwrite
D=$K/demo/pg/snap1
mkdir -p "$D"
printf 'line1\n' >"$D/log.txt"
printf 'line2\n' >>"$D/log.txt"
printf 'line3\n' >>"$D/log.txt"
check "append (>>) twice" test "$(cat "$S/demo/pg/snap1/log.txt")" = "$(printf 'line1\nline2\nline3')"
head -c $((6 * 1024 * 1024)) /dev/urandom >"$T_DIR/big1"
cp "$T_DIR/big1" "$D/big"
head -c $((5 * 1024 * 1024)) /dev/urandom >"$T_DIR/big2"
cat "$T_DIR/big2" >>"$D/big"
cat "$T_DIR/big1" "$T_DIR/big2" >"$T_DIR/big12"
check "append to a multi-part object" cmp -s "$T_DIR/big12" "$S/demo/pg/snap1/big"
printf 'short\n' >"$D/big"
check "overwrite (O_TRUNC) replaces the object" test "$(cat "$S/demo/pg/snap1/big")" = short
dd if=/dev/zero of="$D/big" bs=1 count=3 seek=2 conv=notrunc status=none
check "a write in the middle (conv=notrunc) is staged whole" \
	test "$(od -An -c "$S/demo/pg/snap1/big" | tr -d ' \n')" = 'sh\0\0\0\n'
truncate -s 2 "$D/big"
check "truncate shrinks the stored object" test "$(cat "$S/demo/pg/snap1/big")" = sh
truncate -s 0 "$D/big"
check "truncate to zero" test "$(stat -c %s "$S/demo/pg/snap1/big")" = 0
: >"$D/empty"
touch "$D/touched"
# a bare create is published when the last descriptor is released, which the kernel sends after
# close() returns: give it a moment
wait_file() { for _ in $(seq 300); do [ -e "$1" ] && return 0; sleep 0.1; done; return 1; }
check "an empty file is stored" wait_file "$S/demo/pg/snap1/empty"
check "touch creates an empty object" wait_file "$S/demo/pg/snap1/touched"

# --- sizes and listing
check "ls -l shows the right size" test "$(stat -c %s "$D/log.txt")" = 18
check "ls lists the snapshot's files" test "$(ls "$D" | tr '\n' ' ')" = "big empty log.txt touched "
echo outside >"$S/demo/pg/snap1/from-elsewhere.txt"
sleep 1.2
check "an object written by another client appears" test "$(cat "$D/from-elsewhere.txt")" = outside

# --- mkdir / rmdir
mkdir "$D/sub"
check "mkdir inside a snapshot makes a folder" test -d "$S/demo/pg/snap1/sub"
echo x >"$D/sub/f"
check "rmdir of a non-empty folder fails" bash -c "! rmdir '$D/sub' 2>/dev/null"
rm "$D/sub/f"
rmdir "$D/sub"
check "rmdir of an empty folder" test ! -e "$D/sub"

# --- rename of a file and of a snapshot folder
mv "$D/log.txt" "$D/log-renamed.txt"
check "rename a file" test "$(cat "$S/demo/pg/snap1/log-renamed.txt" | wc -l)" = 3
check "the old name is gone" test ! -e "$D/log.txt"
mv "$K/ns1/db/snap1" "$K/ns1/db/snap1-renamed"
check "rename a snapshot folder: data moved" cmp -s "$T_DIR/src1" "$S/ns1/db/snap1-renamed/file.bin"
check "rename a snapshot folder: old one gone" test ! -e "$S/ns1/db/snap1/file.bin"
check "rename to an invalid name is refused" bash -c "! mv '$K/ns2/db/snap2' '$K/ns2/db/Snap_2' 2>/dev/null"

# --- tar in and out
mkdir -p "$T_DIR/tree/a/b"
for i in $(seq 1 20); do head -c $((i * 3000)) /dev/urandom >"$T_DIR/tree/a/b/f$i"; done
head -c $((5 * 1024 * 1024)) /dev/urandom >"$T_DIR/tree/a/big"
# many small files from one process: each create meets the release of the one before (under the
# ASan daemon, a handle list walked during a release read a freed file once)
mkdir -p "$T_DIR/tree/a/c"
for i in $(seq 1 400); do head -c 4096 /dev/urandom >"$T_DIR/tree/a/c/s$i"; done
(cd "$T_DIR/tree" && tar cf - a) | (mkdir -p "$K/demo/pg/tarsnap" && cd "$K/demo/pg/tarsnap" && tar xf -)
check "tar x into the mount" diff -r "$T_DIR/tree/a" "$S/demo/pg/tarsnap/a"
(cd "$K/demo/pg/tarsnap" && tar cf - a) | (mkdir -p "$T_DIR/untar" && cd "$T_DIR/untar" && tar xf -)
check "tar c out of the mount" diff -r "$T_DIR/tree/a" "$T_DIR/untar/a"

# --- rm -r of a snapshot removes all its data
rm -r "$K/demo/pg/tarsnap"
check "rm -r removes every object of the snapshot" test -z "$(find "$S/demo/pg/tarsnap" -type f 2>/dev/null)"
check "rm -r: gone from the mount" test ! -e "$K/demo/pg/tarsnap/a"

# --- rm of a file still open for writing: the writer goes on, nothing is stored at its close
( head -c $((5 * 1024 * 1024)) /dev/urandom; sleep 1; echo more ) >"$D/open.bin" &
W=$!
sleep 0.5
rm "$D/open.bin"
set +e
wait "$W"
wrc=$?
set -e
check "rm of an open file: the writer finishes without error" test "$wrc" -eq 0
sleep 0.3
check "rm of an open file: nothing is stored" test ! -e "$S/demo/pg/snap1/open.bin"

# --- statfs and status
check "df works on the mount" df "$M"
check "the status file is JSON" python3 -c "import json,sys; d=json.load(open('$M/.snapfs/status')); assert d['totals']['committed'] > 5"

umount_snapfs "$M"
check "unmounted" bash -c "! mountpoint -q '$M'"
finish
