# Everyday use of a gs:// mount: small and empty files, folders (markers), listings that need several
# pages (the server returns 5 entries a page), rename (objects.rewrite in 1 MiB steps), rm -r.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/gcs.sh"

start_gcs_server --max-results 5 --rewrite-step $((1024 * 1024))
M=$T_DIR/mnt
mount_snapfs gs://kubedb/backups "$M" --secret-dir "$GCS_SECRET" --endpoint "$GCS_URL" \
	--cache-dir "$T_DIR/cache"
S=$M/kubedb/demo/pg/snap1
mkdir -p "$S"
stored() { gcs_obj_path "backups/kubedb/demo/pg/snap1/$1"; }

echo "hello gcs" >"$S/small.txt"
: >"$S/empty"
check "a small file is one object" cmp -s "$S/small.txt" "$(stored small.txt)"
check "an empty file is an empty object" [ -f "$(stored empty)" ] && [ ! -s "$(stored empty)" ]
mkdir "$S/sub"
check "mkdir leaves a folder marker" [ -f "$(stored sub/)" ]
check "an empty folder lists" [ -d "$S/sub" ]

# listing pages: 60 files
for i in $(seq -w 1 60); do printf 'file %s\n' "$i" >"$S/sub/f$i"; done
lists0=$(gcs_stat lists)
check "ls sees all 60 files through 5-entry pages" [ "$(ls "$S/sub" | wc -l)" -eq 60 ]
check "the listing took several pages" [ $(($(gcs_stat lists) - lists0)) -ge 12 ]
check "find sees the tree" [ "$(find "$S" -type f | wc -l)" -eq 62 ]
check "content of a listed file" [ "$(cat "$S/sub/f42")" = "file 42" ]

# rename a 3.5 MiB file: a rewrite in steps, then the old name is gone
head -c $((3 * 1024 * 1024 + 512 * 1024)) /dev/urandom >"$T_DIR/r.bin"
cp "$T_DIR/r.bin" "$S/r.bin"
rw0=$(gcs_stat rewrite_calls)
check "mv a file" mv "$S/r.bin" "$S/renamed.bin"
check "the new name has the bytes" cmp "$T_DIR/r.bin" "$(stored renamed.bin)"
check "the old name is gone from the store" [ ! -e "$(stored r.bin)" ]
check "the old name is gone from the mount" [ ! -e "$S/r.bin" ]
check "the rewrite went in several calls (rewriteToken)" [ $(($(gcs_stat rewrite_calls) - rw0)) -ge 4 ]
check "read the renamed file through the mount" cmp "$T_DIR/r.bin" "$S/renamed.bin"

# rename a folder of 60 files: every key is rewritten under the new prefix
check "mv a folder" mv "$S/sub" "$S/moved"
check "the folder's files are under the new name in the store" \
	[ "$(ls "$GCS_DATA/kubedb" | grep -c '^backups%2Fkubedb%2Fdemo%2Fpg%2Fsnap1%2Fmoved%2Ff')" -eq 60 ]
check "none under the old name" \
	[ "$(ls "$GCS_DATA/kubedb" | grep -c '^backups%2Fkubedb%2Fdemo%2Fpg%2Fsnap1%2Fsub%2F' || true)" -eq 0 ]
check "the moved folder lists" [ "$(ls "$S/moved" | wc -l)" -eq 60 ]

# rm -r of a snapshot: everything below it goes, a neighbour with a longer name stays
mkdir -p "$M/kubedb/demo/pg/snap10"
echo keep >"$M/kubedb/demo/pg/snap10/keep.txt"
check "rm -r a snapshot" rm -r "$S"
# (a layout level such as a snapshot name can always be looked up; listing is what tells)
check "the snapshot is no longer listed" bash -c "! ls '$M/kubedb/demo/pg' | grep -qx snap1"
check "snap10 still is" bash -c "ls '$M/kubedb/demo/pg' | grep -qx snap10"
left=$(ls "$GCS_DATA/kubedb" | grep -c '^backups%2Fkubedb%2Fdemo%2Fpg%2Fsnap1%2F' || true)
check "no object of the snapshot is left in the store" [ "$left" -eq 0 ]
check "snap10 is untouched" [ "$(cat "$(gcs_obj_path backups/kubedb/demo/pg/snap10/keep.txt)")" = keep ]
umount_snapfs "$M"
finish
