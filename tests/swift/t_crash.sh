#!/usr/bin/env bash
# kill -9 during two uploads to Swift, then a remount with the same cache dir: the remount deletes the
# segments of both (tests/lib/crash.sh); the segment container holds exactly the old dump's segments
# again, and no more.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/swift.sh"
source "$SNAPFS_SRC/tests/lib/crash.sh"

start_swift
swift_mkcontainer kubedb

crash_mount() {
	local mnt=$1; shift
	mount_snapfs swift://kubedb "$mnt" --secret-dir "$SWIFT_SECRET" "$@"
}
# segments below the crash folder that no stored dump's manifest lists
crash_leftovers() {
	local all owned k
	all=$(swift_curl "/kubedb_segments?prefix=$CRASH_DIR/&limit=10000" | sort)
	owned=$(for k in dumpfile.sql new.sql; do
		swift_curl "/kubedb/$CRASH_DIR/$k?multipart-manifest=get" | "$SWIFT_PY" -c '
import json, sys
try:
    m = json.load(sys.stdin)
except ValueError:
    m = []
for e in m if isinstance(m, list) else []:
    print(e["name"].split("/", 2)[2])'
	done | sort)
	comm -23 <(echo "$all" | sed '/^$/d') <(echo "$owned" | sed '/^$/d')
}
crash_get() {
	[ "$(swift_curl -o "$2" -w '%{http_code}' "/kubedb/$1")" = 200 ]
}
export -f crash_get swift_curl
export SWIFT_TOKEN SWIFT_STORAGE_URL

crash_run
finish
