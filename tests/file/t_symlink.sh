#!/usr/bin/env bash
# A file:// store directory holding symlinks (planted by anyone who can write the volume) must never let
# the daemon, which runs as root, leave the directory: through the mount, with --allow-other, a symlink
# is never followed in a read, stat, write, create, rename, listing or delete. A link named as a file or
# folder reads as an error (ELOOP) or is left out of listings; files outside stay untouched, and the
# log says once that a symlink was refused.
source "$SNAPFS_SRC/tests/lib/common.sh"

STORE=$T_DIR/store
OUT=$T_DIR/outside
mkdir -p "$STORE/kubedb/demo/pg/snap1" "$OUT/deep"
echo "the dump" >"$STORE/kubedb/demo/pg/snap1/dumpfile.sql"
echo "precious file outside the store" >"$OUT/victim.txt"
echo "deep file outside" >"$OUT/deep/f"
echo "private data outside the store" >"$T_DIR/private.txt"
chmod 600 "$T_DIR/private.txt"
ln -s "$OUT" "$STORE/kubedb/demo/pg/snap1/sub"                  # a folder link below a snapshot
ln -s "$T_DIR/private.txt" "$STORE/kubedb/demo/pg/snap1/leak.txt" # a file link
ln -s "$OUT" "$STORE/kubedb/demo/pg/snaplink"                   # a whole snapshot that is a link
ln -s ../snap1/dumpfile.sql "$STORE/kubedb/demo/pg/snap1/rel.sql"  # a relative link inside the store
sum_out() { (cd "$T_DIR" && find outside private.txt -printf '%p %s %m\n' | sort && cat outside/victim.txt \
	outside/deep/f private.txt) | md5sum; }
BEFORE=$(sum_out)

M=$T_DIR/mnt
mount_snapfs "file://$STORE" "$M" --cache-dir "$T_DIR/cache" --allow-other --meta-ttl 0
LOG=$T_DIR/snapfs-mnt.log
S=$M/kubedb/demo/pg/snap1

# fails CMD...: CMD exits non-zero (and says why on stderr, kept in fails.log)
fails() { ! "$@" 2>>"$T_DIR/fails.log"; }

# ---------- listings ----------
check "the listing shows the file and no link" test "$(ls -A "$S")" = "dumpfile.sql"
check "the snapshot that is a link is not listed" bash -c "! ls '$M/kubedb/demo/pg' | grep -qx snaplink"
check "find over the snapshot folder finds one file" \
	test "$(find "$M/kubedb/demo/pg" -type f 2>/dev/null | wc -l)" = 1
check "listing the linked snapshot fails" fails ls "$M/kubedb/demo/pg/snaplink/"
check "listing a folder link below a snapshot fails" fails ls "$S/sub/"

# ---------- reads and stat ----------
check "a file link cannot be read by user nobody" fails runuser -u nobody -- cat "$S/leak.txt"
check "nor by root" fails cat "$S/leak.txt"
check "a relative link inside the store is not followed either" fails cat "$S/rel.sql"
check "stat of a file link fails with ELOOP" \
	bash -c "stat '$S/leak.txt' 2>&1 | grep -q 'Too many levels of symbolic links'"
check "a file through a folder link cannot be read" fails cat "$M/kubedb/demo/pg/snaplink/victim.txt"
check "nor one deeper" fails cat "$S/sub/deep/f"
check "the real file reads" test "$(cat "$S/dumpfile.sql")" = "the dump"

# ---------- writes and creates ----------
check "no create through a folder link below a snapshot" fails sh -c "echo new >'$S/sub/new.txt'"
check "no create through a linked snapshot" fails sh -c "echo new >'$M/kubedb/demo/pg/snaplink/new.txt'"
check "no overwrite through a folder link" fails sh -c "echo new >'$S/sub/victim.txt'"
check "no overwrite of a file link" fails sh -c "echo new >'$S/leak.txt'"
check "no append to a file link" fails sh -c "echo new >>'$S/leak.txt'"
check "no mkdir through a folder link" fails mkdir "$S/sub/newdir"
check "no cp into a linked snapshot" fails cp "$S/dumpfile.sql" "$M/kubedb/demo/pg/snaplink/copy.sql"

# ---------- renames ----------
check "no rename into a folder link" fails mv "$S/dumpfile.sql" "$S/sub/moved.sql"
check "no rename out of a folder link" fails mv "$S/sub/victim.txt" "$S/taken.txt"
check "no rename of a file link" fails mv "$S/leak.txt" "$S/leak2.txt"
check "the renamed-from file stays in the store" test "$(cat "$STORE/kubedb/demo/pg/snap1/dumpfile.sql")" = "the dump"

# ---------- deletes ----------
check "no rm through a folder link" fails rm -f "$S/sub/victim.txt"
check "no rm -r of a linked snapshot" fails rm -r "$M/kubedb/demo/pg/snaplink"
rm -r "$S" 2>>"$T_DIR/fails.log" || true
check "rm -r of the snapshot removes the real file" test ! -e "$STORE/kubedb/demo/pg/snap1/dumpfile.sql"
check "and leaves the links themselves in the volume, unfollowed" \
	test -L "$STORE/kubedb/demo/pg/snap1/sub" -a -L "$STORE/kubedb/demo/pg/snap1/leak.txt"

# ---------- nothing outside changed, the log says it once ----------
check "every file outside the store is as it was" test "$(sum_out)" = "$BEFORE"
check "nothing was created outside" test "$(ls -A "$OUT" | tr '\n' ' ')" = "deep victim.txt "
check "the log warns of a symlink once" test "$(grep -c 'a symlink in the store directory, not followed' "$LOG")" = 1
umount_snapfs "$M"

# ---------- the backend's own folder as a link: the mount refuses the volume ----------
mkdir -p "$T_DIR/store2" "$T_DIR/elsewhere"
ln -s "$T_DIR/elsewhere" "$T_DIR/store2/.snapfs"
check "a volume whose .snapfs is a symlink is refused" \
	fails mount_snapfs "file://$T_DIR/store2" "$T_DIR/mnt2" --cache-dir "$T_DIR/cache2"
check "with the reason" grep -q "cannot create .snapfs/tmp for uploads: Too many levels of symbolic links" \
	"$T_DIR/fails.log"
check "and nothing was created in the link's target" test -z "$(ls -A "$T_DIR/elsewhere")"

finish
