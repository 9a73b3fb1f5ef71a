#!/bin/bash
# The file:// backend through the generic conformance driver (tests/conformance/backend_check), plus the
# ways open() must refuse a directory, with the one-line reason the mount would print.
source "$SNAPFS_SRC/tests/lib/common.sh"

BC=$SNAPFS_BUILD/tests/conformance/backend_check
[ -x "$BC" ] || die "$BC is not built"

VOL=$T_DIR/vol
mkdir -p "$VOL"

# contains FILE TEXT: the output of a run says TEXT
contains() { grep -qF -- "$2" "$1"; }

check "conformance on file:// (default sizes)" "$BC" "file://$VOL" --many 1200 --big-mib 24 \
	>"$T_DIR/check.log" 2>&1
cat "$T_DIR/check.log"
check "the run reports no failure" contains "$T_DIR/check.log" " 0 failed"
check "nothing is left behind: only the hidden folder" test "$(ls -A "$VOL")" = ".snapfs"
check "no temp files are left" test -z "$(ls -A "$VOL/.snapfs/tmp")"

# two drivers at once on one volume: separate prefixes, shared temp folder
"$BC" "file://$VOL" --many 300 --big-mib 12 --threads 8 >"$T_DIR/par1.log" 2>&1 &
p1=$!
"$BC" "file://$VOL" --many 300 --big-mib 12 --threads 8 >"$T_DIR/par2.log" 2>&1 &
p2=$!
check "two concurrent runs on one volume: first" wait "$p1"
check "two concurrent runs on one volume: second" wait "$p2"

# a volume given with extra slashes is the same directory
check "a SOURCE with extra slashes" "$BC" "file://$VOL//" --many 10 --big-mib 9 >"$T_DIR/slashes.log" 2>&1

# refusals: non-zero exit and a reason that names the problem
refused() {
	local log=$1 want=$2; shift 2
	if "$@" >"$log" 2>&1; then
		echo "unexpectedly succeeded: $*" >&2
		return 1
	fi
	grep -q -- "^not ok - .*$want" "$log" || { cat "$log" >&2; return 1; }
}
check "a missing directory is refused" \
	refused "$T_DIR/missing.log" "does not exist" "$BC" "file://$T_DIR/nope"
touch "$T_DIR/plain"
check "a plain file is refused" refused "$T_DIR/plain.log" "not a directory" "$BC" "file://$T_DIR/plain"
mkdir -p "$T_DIR/rootonly"
chmod 755 "$T_DIR/rootonly"
check "a directory the user cannot write is refused" refused "$T_DIR/perm.log" "not writable" \
	runuser -u nobody -- "$BC" "file://$T_DIR/rootonly"
mkdir -p "$T_DIR/ro"
mount -t tmpfs -o ro,size=1m snapfs-test-ro "$T_DIR/ro"
T_MOUNTS+=("$T_DIR/ro")
check "a read-only filesystem is refused" \
	refused "$T_DIR/ro.log" "Read-only file system" "$BC" "file://$T_DIR/ro"
umount "$T_DIR/ro"
check "a relative file:// path is refused" \
	refused "$T_DIR/rel.log" "absolute directory" "$BC" "file://rel/dir"

finish
