#!/usr/bin/env bash
# Deletes through a file:// mount go through the delete queue like any store's:
# - rm -r of 1,000 files leaves no file in the store when rm returns, and the folder is gone;
# - rm f; echo new > f, and rm f; mv g f, leave the new file in the store, over many rounds;
# - a delete the store refuses (the snapshot's folder bind-mounted read-only): rm -r fails with EIO,
#   the log names the file, the files show again through the mount, and once the store takes deletes
#   again rm -r removes them;
# - unlink of files queued right before unmount: they are gone once the daemon has exited.
source "$SNAPFS_SRC/tests/lib/common.sh"

STORE=$T_DIR/store
M=$T_DIR/mnt
mkdir -p "$STORE"
mount_snapfs "file://$STORE" "$M" --cache-dir "$T_DIR/cache" --meta-ttl 1
LOG=$T_DIR/snapfs-mnt.log
K=$M/kubedb/demo/pg
S=$STORE/kubedb/demo/pg

# ---------- rm -r of 1,000 files ----------
mkdir -p "$S/big/sub"
for i in $(seq 1 1000); do echo "$i" >"$S/big/f$i"; done
for i in $(seq 1 20); do echo "$i" >"$S/big/sub/g$i"; done
mkdir -p "$S/big1"
echo keep >"$S/big1/f1"
check "the mount lists the 1,000 files" test "$(ls "$K/big" | grep -c '^f')" = 1000
check "rm -r of the snapshot" rm -r "$K/big"
check "right after rm -r no file is left in the store" test -z "$(find "$S/big" -type f 2>/dev/null)"
check "the folder is gone from the store" test ! -e "$S/big"
check "the folder is gone from the mount" bash -c "! ls '$K' | grep -qx big"
check "the neighbour big1 stays" test "$(cat "$K/big1/f1")" = keep

# ---------- a new file of a deleted name is never taken by the stale delete ----------
mkdir -p "$K/snap1"
bad=0
for i in $(seq 1 30); do
	# a stale delete would take the new f, and the next rm would fail
	{ echo "old $i" >"$K/snap1/f" && echo "g $i" >"$K/snap1/g" && rm "$K/snap1/f" &&
		echo "new $i" >"$K/snap1/f" && rm "$K/snap1/f" && mv "$K/snap1/g" "$K/snap1/f" &&
		[ "$(cat "$S/snap1/f" 2>/dev/null)" = "g $i" ]; } || bad=$((bad + 1))
done
sleep 1
check "rm f; echo new > f; rm f; mv g f: the store has the last file, 30 rounds" \
	bash -c "test $bad = 0 && test \"\$(cat '$S/snap1/f')\" = 'g 30'"
check "and the mount reads it" test "$(cat "$K/snap1/f")" = "g 30"
check "a removed file is gone from the mount at once" bash -c "echo x > '$K/snap1/h' && rm '$K/snap1/h' && test ! -e '$K/snap1/h' && ! ls '$K/snap1' | grep -qx h"

# ---------- listings kept for back-to-back readers never hide a change made through the mount ----------
ls "$K/snap1" >/dev/null
echo x >"$K/snap1/n1"
check "a new file is listed right after a listing" bash -c "ls '$K/snap1' | grep -qx n1"
rm "$K/snap1/n1"
ls "$K/snap1" >/dev/null   # listed while its delete may still be queued
for _ in $(seq 300); do [ -e "$S/snap1/n1" ] || break; sleep 0.1; done
check "a deleted file stays unlisted once its delete is done" bash -c "! ls '$K/snap1' | grep -qx n1"
mkdir "$K/snap1/d1"
check "a new folder is listed right after a listing" bash -c "ls '$K/snap1' | grep -qx d1"
rmdir "$K/snap1/d1"
check "a removed folder is not" bash -c "! ls '$K/snap1' | grep -qx d1"

# ---------- a store that refuses the deletes ----------
mkdir -p "$S/ro"
for i in $(seq 1 20); do echo "$i" >"$S/ro/r$i"; done
mount --bind "$S/ro" "$S/ro"
T_MOUNTS+=("$S/ro")
mount -o remount,bind,ro "$S/ro"
set +e
rm -r "$K/ro" 2>"$T_DIR/rm-ro.err"
rc=$?
set -e
check "rm -r fails when the store cannot delete" test "$rc" -ne 0
check "rm -r says Input/output error" grep -q "Input/output error" "$T_DIR/rm-ro.err"
check "the log names a file whose delete failed" grep -qE "delete of kubedb/demo/pg/ro/r[0-9]+ failed" "$LOG"
check "the store still has the 20 files" test "$(ls "$S/ro" | wc -l)" = 20
sleep 1.5   # past --meta-ttl
check "the files show again through the mount" test "$(ls "$K/ro" | wc -l)" = 20
check "and read as before" test "$(cat "$K/ro/r7")" = 7
umount "$S/ro"
check "once the store takes deletes, rm -r removes them" rm -r "$K/ro"
check "the store has none left" test ! -e "$S/ro"

# ---------- deletes queued right before unmount are done before exit ----------
mkdir -p "$S/last"
for i in $(seq 1 200); do echo "$i" >"$S/last/l$i"; done
ls "$K/last" >/dev/null
for i in $(seq 1 200); do rm "$K/last/l$i"; done
umount_snapfs "$M"
check "files unlinked right before unmount are gone from the store" test -z "$(find "$S/last" -type f 2>/dev/null)"

finish
