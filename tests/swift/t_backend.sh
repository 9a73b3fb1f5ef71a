#!/bin/bash
# The Swift backend through the conformance checker, against a real one-node Swift (TempAuth, SLO, bulk
# delete), then against one with SLO and bulk delete switched off (DLO manifests, per-object deletes).
# snapfs-servers: swift rgw
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/swift.sh"

CHECK=$SNAPFS_BUILD/tests/conformance/backend_check
[ -x "$CHECK" ] || die "backend_check not built: $CHECK"

bad_secret() {
	mkdir -p "$T_DIR/bad-secret"
	cp "$SWIFT_SECRET"/* "$T_DIR/bad-secret/"
	printf 'not-the-key-at-all' >"$T_DIR/bad-secret/ST_KEY"
}

# segments_left CONTAINER: objects left in its segment container
segments_left() { swift_count "${1}_segments"; }

start_swift
swift_mkcontainer snap
bad_secret
# small listing pages so --many keys need several (marker pagination)
check "conformance (SLO, bulk delete)" env SNAPFS_SWIFT_PAGE=100 "$CHECK" swift://snap/team-a \
	--secret-dir "$SWIFT_SECRET" --bad-secret-dir "$T_DIR/bad-secret" --many 300 --big-mib 24
check "no segments left behind (SLO)" test "$(segments_left snap)" = 0
# at most 2 segments per manifest: uploads and appends nest sub-manifests (SLO holds 1000 per manifest)
check "conformance with nested manifests" env SNAPFS_SWIFT_MAX_SEGMENTS=2 "$CHECK" swift://snap \
	--secret-dir "$SWIFT_SECRET" --many 0 --big-mib 24
check "no segments left behind (nested)" test "$(segments_left snap)" = 0

# wrong container: a one-line reason
out=$("$CHECK" swift://no-such-container --secret-dir "$SWIFT_SECRET" 2>&1 || true)
check "missing container: one-line reason" grep -q "container 'no-such-container' does not exist" <<<"$out"
finish
