#!/usr/bin/env bash
# The command line: help and version, one-line errors with a non-zero exit, -o options as fstab
# writes them, the foreground mode, and SIGTERM unmounting cleanly.
source "$SNAPFS_SRC/tests/lib/common.sh"

STORE=$T_DIR/store
mkdir -p "$STORE" "$T_DIR/mnt"

check "--help prints usage" bash -c "'$SNAPFS' --help | grep -q 'usage: snapfs SOURCE MOUNTPOINT'"
check "--help lists every documented option" bash -c "for o in secret-dir endpoint region cache-dir cache-size part-size uploads log-level; do '$SNAPFS' --help | grep -q -- \"--\$o\" || exit 1; done"
check "--version" bash -c "'$SNAPFS' --version | grep -qE '^snapfs [0-9]+\.[0-9]+'"

# expect_fail NAME EXPECTED-TEXT args...: non-zero exit and exactly one line on stderr naming it
expect_fail() {
	local name=$1 text=$2; shift 2
	set +e
	"$SNAPFS" "$@" >"$T_DIR/out" 2>"$T_DIR/err"
	local rc=$?
	set -e
	check "$name: non-zero exit" test "$rc" -ne 0
	check "$name: one line on stderr" test "$(wc -l <"$T_DIR/err")" -eq 1
	check "$name: says '$text'" grep -q -- "$text" "$T_DIR/err"
	check "$name: nothing mounted" bash -c "! mountpoint -q '$T_DIR/mnt'"
}
expect_fail "no arguments" "usage"
expect_fail "unknown option" "--frobnicate" "file://$STORE" "$T_DIR/mnt" --frobnicate
expect_fail "bad size" "not a size" "file://$STORE" "$T_DIR/mnt" --cache-size lots
expect_fail "not a URL" "not a URL" "/just/a/path" "$T_DIR/mnt"
expect_fail "unknown scheme" "unknown store" "ftp://host/x" "$T_DIR/mnt"
expect_fail "relative file path" "absolute" "file://relative/dir" "$T_DIR/mnt"
expect_fail "missing store dir" "$T_DIR/nope" "file://$T_DIR/nope" "$T_DIR/mnt"
expect_fail "missing mountpoint" "$T_DIR/nomnt" "file://$STORE" "$T_DIR/nomnt"
expect_fail "missing secret dir" "secret" "file://$STORE" "$T_DIR/mnt" --secret-dir "$T_DIR/nosecret"
expect_fail "cache too small for parts" "cache-size" "file://$STORE" "$T_DIR/mnt" --cache-size 4M --part-size 8M
expect_fail "bad -o option" "frob" "file://$STORE" "$T_DIR/mnt" -o "frob=1"

# -o as an fstab line carries them (mount.snapfs passes exactly this)
mount_snapfs "file://$STORE" "$T_DIR/mnt" -o "rw,nosuid,nodev,_netdev,cache_dir=$T_DIR/cache,cache-size=64M,part_size=4M,uploads=2"
check "-o options mount" mountpoint -q "$T_DIR/mnt"
check "the mount shows in /proc/mounts as fuse.snapfs with its source" grep -q "^file://$STORE $T_DIR/mnt fuse.snapfs" /proc/mounts
head -c 10M /dev/urandom >"$T_DIR/f"
cp "$T_DIR/f" "$T_DIR/mnt/kubedb/a/b/c/f"
umount_snapfs "$T_DIR/mnt"
check "data written before unmount is stored" cmp -s "$T_DIR/f" "$STORE/kubedb/a/b/c/f"

# foreground mode, and SIGTERM unmounts
"$SNAPFS" "file://$STORE" "$T_DIR/mnt" -f --cache-dir "$T_DIR/cache" --log-file "$T_DIR/fg.log" &
FG=$!
T_PIDS+=("$FG")
T_MOUNTS+=("$T_DIR/mnt")
for _ in $(seq 300); do mountpoint -q "$T_DIR/mnt" && break; sleep 0.1; done
check "-f mounts in the foreground" mountpoint -q "$T_DIR/mnt"
check "files are readable" cmp -s "$T_DIR/f" "$T_DIR/mnt/kubedb/a/b/c/f"
kill -TERM "$FG"
set +e
wait "$FG"
rc=$?
set -e
check "SIGTERM: the daemon exits 0 (rc $rc)" test "$rc" -eq 0
check "SIGTERM: unmounted" bash -c "! mountpoint -q '$T_DIR/mnt'"
finish
