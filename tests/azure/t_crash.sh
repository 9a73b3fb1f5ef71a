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
finish
