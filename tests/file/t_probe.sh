#!/bin/bash
# The write check at mount on file:// (a temp file in DIR/.snapfs/tmp renamed into place, as every file
# is committed): a mount leaves no probe object and no temp file; a store whose commit cannot work
# (DIR/.snapfs/tmp on another file system than DIR: the rename fails with EXDEV, while the parts land
# fine) fails the mount with one line naming the step and the reason, before anything is mounted;
# --no-probe, -o no_probe and --read-only skip it. And a failed mount's one line reaches --log-file at
# every --log-level (error, warn, info, debug), for a write check that fails and for a store that
# cannot be opened.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/probe.sh"

STORE=$T_DIR/store
mkdir -p "$STORE"

# ---------- a store that takes the commit ----------
probe_mount ok "file://$STORE" --cache-dir "$T_DIR/cache-ok"
check "a writable store: mounted after the write check" probe_ok ok
key=$(probe_key ok)
check "the probe object is hidden at the top, beside kubedb/" grep -Eq '^\.snapfs-probe-[0-9a-f]{16}$' <<<"$key"
check "no probe object left" test -z "$(find "$STORE" -name '.snapfs-probe-*' -print -quit)"
check "no temp file left" test -z "$(ls -A "$STORE/.snapfs/tmp")"
check "the mount shows no probe object" test -z "$(ls -A "$T_DIR/mnt-ok/kubedb")"
head -c 3000000 /dev/urandom >"$T_DIR/data"
mkdir -p "$T_DIR/mnt-ok/kubedb/ns/db/snap"
cp "$T_DIR/data" "$T_DIR/mnt-ok/kubedb/ns/db/snap/f"
check "and it works" same_file "$T_DIR/data" "$STORE/kubedb/ns/db/snap/f"
umount_snapfs "$T_DIR/mnt-ok"
probe_measure time "file://$STORE" --cache-dir "$T_DIR/cache-time"

# ---------- a store that refuses the commit ----------
BAD=$T_DIR/bad
mkdir -p "$BAD/.snapfs/tmp"
mount -t tmpfs -o size=16m tmpfs "$BAD/.snapfs/tmp"
T_MOUNTS+=("$BAD/.snapfs/tmp")
probe_mount exdev "file://$BAD" --cache-dir "$T_DIR/cache-exdev"
check "commit refused: the mount fails with one line naming the step and the reason" probe_refused exdev \
	"^snapfs: cannot mount file://$BAD: write check: committing the chunked upload of \.snapfs-probe-[0-9a-f]{16} failed: .*Invalid cross-device link$"
check "no probe object left" test -z "$(find "$BAD" -name '.snapfs-probe-*' -print -quit)"
check "no temp file left" test -z "$(ls -A "$BAD/.snapfs/tmp")"
probe_mount exdev-np "file://$BAD" --cache-dir "$T_DIR/cache-exdev" --no-probe
check "--no-probe: mounted without the check" \
	bash -c '[ "$(cat "$1")" = 0 ] && mountpoint -q "$2" && ! grep -q "write check" "$3"' _ \
	"$T_DIR/exdev-np.rc" "$T_DIR/mnt-exdev-np" "$T_DIR/snapfs-mnt-exdev-np.log"
umount_snapfs "$T_DIR/mnt-exdev-np"
probe_mount exdev-o "file://$BAD" --cache-dir "$T_DIR/cache-exdev" -o no_probe
check "-o no_probe: the same" bash -c '[ "$(cat "$1")" = 0 ] && mountpoint -q "$2"' _ "$T_DIR/exdev-o.rc" \
	"$T_DIR/mnt-exdev-o"
umount_snapfs "$T_DIR/mnt-exdev-o"
probe_mount exdev-ro "file://$BAD" --cache-dir "$T_DIR/cache-exdev" --read-only
check "--read-only: no write check, mounted" \
	bash -c '[ "$(cat "$1")" = 0 ] && mountpoint -q "$2" && ! grep -q "write check" "$3"' _ \
	"$T_DIR/exdev-ro.rc" "$T_DIR/mnt-exdev-ro" "$T_DIR/snapfs-mnt-exdev-ro.log"
umount_snapfs "$T_DIR/mnt-exdev-ro"

# ---------- the one line reaches --log-file at every level ----------
for level in error warn info debug; do
	probe_mount "lvl-$level" "file://$BAD" --cache-dir "$T_DIR/cache-exdev" --log-level "$level"
	check "--log-level $level: a refused commit's line is on stderr and in the log file" \
		probe_refused "lvl-$level" "write check: committing the chunked upload of .* Invalid cross-device link"
	probe_mount "open-$level" "file://$T_DIR/no-such-dir" --cache-dir "$T_DIR/cache-open" --log-level "$level"
	check "--log-level $level: a store that cannot be opened: the line is on stderr and in the log file" \
		probe_refused "open-$level" "^snapfs: cannot mount file://$T_DIR/no-such-dir: .*does not exist$"
done
finish
