# Folders and many files on Azure through a mount: listing across many List Blobs pages (marker
# pagination; the pages are made small with SNAPFS_AZURE_MAXRESULTS, since filling the emulator past its
# 5,000-blob page takes minutes), folders and files mixed across page boundaries, folder markers for mkdir,
# rename (Copy Blob + Delete Blob), rm -r (Delete Blob per key). Azurite's own view is checked with azcli.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/azure.sh"

start_azurite
MNT=$T_DIR/mnt
P=kubedb/demo/pg/snap1
SNAP=$MNT/$P
SNAPFS_AZURE_MAXRESULTS=250 mount_snapfs azure://kubedb "$MNT" --secret-dir "$AZ_SECRET" \
	--endpoint "$AZ_ENDPOINT" --cache-dir "$T_DIR/cache" --meta-ttl 1
check "the mount lists in pages of 250" grep -q "List Blobs pages of 250" "$T_DIR/snapfs-mnt.log"

# 1,100 blobs put straight into Azurite: one listing of the folder takes five List Blobs pages
N=1100
azcli putmany kubedb "$P/many/f" $N
check "Azurite holds $N blobs" test "$(azcli count kubedb "$P/many/")" = $N
ls "$SNAP/many" >"$T_DIR/ls-many"
check "ls shows all $N files (five List Blobs pages)" test "$(wc -l <"$T_DIR/ls-many")" = $N
seq -f 'f%05g' 0 $((N - 1)) >"$T_DIR/want-many"
check "ls shows every name once, in order" cmp "$T_DIR/want-many" "$T_DIR/ls-many"
check "a file of the last page reads" test "$(cat "$SNAP/many/f0$((N - 1))")" = $((N - 1))

# small pages, with a delimiter: folders and files mixed across page boundaries
mkdir -p "$SNAP/tree"
for d in a b c d e; do
	mkdir -p "$SNAP/tree/$d/sub"
	for f in 1 2 3; do echo "$d$f" >"$SNAP/tree/$d/f$f"; done
	echo "$d-deep" >"$SNAP/tree/$d/sub/deep"
done
for f in x y z; do echo "$f" >"$SNAP/tree/$f.txt"; done
umount_snapfs "$MNT"
SNAPFS_AZURE_MAXRESULTS=2 mount_snapfs azure://kubedb "$MNT" --secret-dir "$AZ_SECRET" \
	--endpoint "$AZ_ENDPOINT" --cache-dir "$T_DIR/cache2" --meta-ttl 1
check "the mount lists in pages of 2" grep -q "List Blobs pages of 2 " "$T_DIR/snapfs-mnt.log"
check "pages of 2: one level" test "$(ls "$SNAP/tree" | tr '\n' ' ')" = "a b c d e x.txt y.txt z.txt "
check "pages of 2: recursive find" test "$(cd "$SNAP/tree" && find . -type f | wc -l)" = 23
check "pages of 2: contents" test "$(cat "$SNAP/tree/c/sub/deep")" = c-deep

# mkdir leaves a folder marker; rmdir removes it
mkdir "$SNAP/empty-dir"
listed() { azcli list kubedb "$P/" / | grep -x "$1" >/dev/null; }   # grep -q would break the pipe
check "mkdir: folder marker blob" listed "$P/empty-dir/"
check "mkdir: the empty folder is listed" test -d "$SNAP/empty-dir"
rmdir "$SNAP/empty-dir"
check "rmdir: marker gone" test "$(azcli size kubedb "$P/empty-dir/")" = missing

# rename a file: Copy Blob then Delete Blob
head -c 3M /dev/urandom >"$T_DIR/r"
cp "$T_DIR/r" "$SNAP/tree/r.bin"
mv "$SNAP/tree/r.bin" "$SNAP/tree/renamed.bin"
check "rename: old name gone in Azurite" test "$(azcli size kubedb "$P/tree/r.bin")" = missing
azcli get kubedb "$P/tree/renamed.bin" "$T_DIR/r2"
check "rename: new blob has the bytes" cmp "$T_DIR/r" "$T_DIR/r2"
check "rename: seen through the mount" cmp "$T_DIR/r" "$SNAP/tree/renamed.bin"

# rm -r of a folder that exists only as a prefix (blobs put by another client, no marker), and of
# nested folders with markers.
azcli putmany kubedb "$P/implicit/g" 300
check "rm -r of 300 files under a prefix without a marker" rm -r "$SNAP/implicit"
check "rm -r: no blob left under implicit/" test "$(azcli count kubedb "$P/implicit/")" = 0
check "rm -r of nested folders" rm -r "$SNAP/tree"
check "rm -r: no blob or marker left under tree/" test "$(azcli count kubedb "$P/tree/")" = 0
check "rm -r: gone from the mount" test ! -e "$SNAP/tree"

umount_snapfs "$MNT"
finish
