#!/usr/bin/env bash
# kill -9 during two uploads to Azure, then a remount with the same cache dir: the remount drops the
# uncommitted blocks of both (tests/lib/crash.sh), and the old blob keeps its bytes and metadata.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/azure.sh"
source "$SNAPFS_SRC/tests/lib/crash.sh"

start_azurite

crash_mount() {
	local mnt=$1; shift
	mount_snapfs azure://kubedb "$mnt" --secret-dir "$AZ_SECRET" --endpoint "$AZ_ENDPOINT" "$@"
}
# the uncommitted blocks of both names, and blobs that have only uncommitted blocks
crash_leftovers() {
	local k n
	for k in dumpfile.sql new.sql; do
		n=$(azcli uncommitted kubedb "$CRASH_DIR/$k")
		[ "$n" = 0 ] || echo "$k: $n uncommitted blocks"
	done
}
crash_get() { [ "$(azcli size kubedb "$1")" != missing ] && azcli get kubedb "$1" "$2"; }
export -f crash_get azcli
export AZ_ENDPOINT AZ_ACCOUNT AZ_KEY

crash_run
sha=$(azcli meta kubedb "$CRASH_DIR/dumpfile.sql" snapfs_sha256)
check "the old blob keeps its SHA-256 metadata" test "$sha" = "$(sha256sum "$T_DIR/old" | cut -d' ' -f1)"

# A discard that fails (a lease another client holds on the blob refuses the Put Block List) is kept
# for the next mount, said in the log, and the mount starts all the same.
MNT=$T_DIR/mnt
KEY=$CRASH_DIR/dumpfile.sql
crash_remount "$MNT" --cache-dir "$T_DIR/cache" --part-size 5M
PID=$(crash_pid)
( head -c $((40 * 1024 * 1024)) /dev/urandom; sleep 120 ) >"$MNT/$KEY" 2>/dev/null &
W=$!
T_PIDS+=("$W")
for _ in $(seq 600); do
	[ -n "$(crash_records)" ] && [ "$(azcli uncommitted kubedb "$KEY")" != 0 ] && break
	sleep 0.1
done
kill -9 "$PID"
kill "$W" 2>/dev/null || true
wait "$W" 2>/dev/null || true
fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT"
check "lease: the crash left blocks" test "$(azcli uncommitted kubedb "$KEY")" != 0
LEASE=$(azcli lease acquire kubedb "$KEY")
crash_remount "$MNT" --cache-dir "$T_DIR/cache" --part-size 5M
check "lease: the failed discard is a warning" \
	grep -q "could not discard the unfinished upload of $KEY left by a crash: .* (kept for the next mount)" "$T_DIR/snapfs-mnt.log"
check "lease: the mount started all the same" cmp -s "$T_DIR/old" "$MNT/$KEY"
check "lease: the record is kept" test "$(crash_records | wc -l)" -eq 1
check "lease: the blocks are still there" test "$(azcli uncommitted kubedb "$KEY")" != 0
umount_snapfs "$MNT"
azcli lease release kubedb "$KEY" "$LEASE"
n=$(grep -c "recovered: discarded the unfinished upload of $KEY (left by a crash)" "$T_DIR/snapfs-mnt.log")
crash_remount "$MNT" --cache-dir "$T_DIR/cache" --part-size 5M
check "lease: the next mount discards it" \
	test "$(grep -c "recovered: discarded the unfinished upload of $KEY (left by a crash)" "$T_DIR/snapfs-mnt.log")" -eq $((n + 1))
check "lease: nothing is left" test "$(azcli uncommitted kubedb "$KEY")" = 0
check "lease: the journal is empty" test -z "$(crash_records)"
check "lease: the old dump is untouched" cmp -s "$T_DIR/old" "$MNT/$KEY"
umount_snapfs "$MNT"
finish
