#!/usr/bin/env bash
# SOURCE travels to the kernel as the mount's fsname= option, inside the one -o string libfuse splits at
# commas. A comma or a backslash in SOURCE must stay part of the name: a file:// directory named
# "st,allow_other,suid,dev" mounts, /proc/mounts shows that name as the source, and none of those words
# became a mount option (the mount stays nosuid,nodev, without allow_other).
source "$SNAPFS_SRC/tests/lib/common.sh"

# field MNT N: field N of the /proc/mounts line of MNT (as the kernel escapes it: \134 is a backslash)
field() { awk -v m="$1" -v f="$2" '$2 == m { print $f }' /proc/mounts; }

# ---------- a comma ----------
STORE="$T_DIR/st,allow_other,suid,dev"
M=$T_DIR/mnt
mkdir -p "$STORE"
check "a file:// directory whose name has commas mounts" \
	mount_snapfs "file://$STORE" "$M" --cache-dir "$T_DIR/cache"
check "/proc/mounts shows the whole name as the source" test "$(field "$M" 1)" = "file://$STORE"
check "and the type fuse.snapfs" test "$(field "$M" 3)" = fuse.snapfs
opts=$(field "$M" 4)
check "no allow_other was injected (options: $opts)" bash -c "! tr ',' '\n' <<<'$opts' | grep -qx allow_other"
check "the mount stays nosuid" bash -c "tr ',' '\n' <<<'$opts' | grep -qx nosuid"
check "and nodev" bash -c "tr ',' '\n' <<<'$opts' | grep -qx nodev"
echo "the dump" >"$M/kubedb/demo/pg/snap1/dumpfile.sql"
check "a file written through it lands in that directory" \
	test "$(cat "$STORE/kubedb/demo/pg/snap1/dumpfile.sql")" = "the dump"
umount_snapfs "$M"

# ---------- a backslash, and a comma right after it ----------
STORE2="$T_DIR/a\\b\\,allow_other"
M2=$T_DIR/mnt2
mkdir -p "$STORE2"
check "a directory whose name has a backslash before a comma mounts" \
	mount_snapfs "file://$STORE2" "$M2" --cache-dir "$T_DIR/cache2"
check "/proc/mounts shows it (a backslash as \\134)" \
	test "$(field "$M2" 1)" = "file://$T_DIR/a\\134b\\134,allow_other"
opts=$(field "$M2" 4)
check "no allow_other was injected (options: $opts)" bash -c "! tr ',' '\n' <<<'$opts' | grep -qx allow_other"
echo x >"$M2/kubedb/demo/pg/snap1/f"
check "a file written through it lands there" test "$(cat "$STORE2/kubedb/demo/pg/snap1/f")" = x
umount_snapfs "$M2"

# ---------- options given on purpose still pass ----------
check "-o allow_other given on purpose still applies" \
	mount_snapfs "file://$STORE" "$M" --cache-dir "$T_DIR/cache" -o allow_other
check "it shows in /proc/mounts" bash -c "tr ',' '\n' <<<'$(field "$M" 4)' | grep -qx allow_other"
umount_snapfs "$M"

finish
