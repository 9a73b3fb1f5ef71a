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

# A record whose upload was committed (the crash came between the manifest and the record's removal):
# its segments are the stored object's and must stay.
KEY=$CRASH_DIR/new.sql
UID_=$(swift_curl "/kubedb/$KEY?multipart-manifest=get" | "$SWIFT_PY" -c '
import json, sys
print(json.load(sys.stdin)[0]["name"].split("/")[-2])')
NSEG=$(swift_count kubedb_segments "$KEY/$UID_/")
check "committed: the stored object has segments of its upload" test "$NSEG" -ge 2
printf '%s\n%s\n' "$KEY" "$UID_" >"$(ls -d "$T_DIR"/cache/journal-*)/910000-1.up"
n=$(grep -c "nothing is left of the upload of $KEY" "$T_DIR/snapfs-mnt.log")
crash_remount "$T_DIR/mnt" --cache-dir "$T_DIR/cache"
check "committed: the remount says nothing was left to discard" \
	test "$(grep -c "nothing is left of the upload of $KEY" "$T_DIR/snapfs-mnt.log")" -eq $((n + 1))
check "committed: its segments stay" test "$(swift_count kubedb_segments "$KEY/$UID_/")" -eq "$NSEG"
check "committed: the object reads back whole" bash -c "crash_get $KEY '$T_DIR/again.2' && cmp -s '$T_DIR/again' '$T_DIR/again.2'"
check "committed: the journal is empty" test -z "$(crash_records)"
umount_snapfs "$T_DIR/mnt"
finish
