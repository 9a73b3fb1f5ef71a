#!/bin/bash
# Where a cluster has SLO and bulk delete switched off: large objects become Dynamic Large Objects
# (X-Object-Manifest over the upload's segment prefix) and deletes go one object at a time. TempAuth
# tokens live 4 s here, so the run also renews its token before expiry (and on 401) many times.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/swift.sh"

CHECK=$SNAPFS_BUILD/tests/conformance/backend_check
[ -x "$CHECK" ] || die "backend_check not built: $CHECK"

start_swift noslo nobulk token_life=4
swift_mkcontainer snap
check "conformance (DLO, per-object delete, short-lived tokens)" \
	env SNAPFS_SWIFT_PAGE=100 "$CHECK" swift://snap \
	--secret-dir "$SWIFT_SECRET" --many 150 --big-mib 12 2>"$T_DIR/check.log"
check "tokens were renewed during the run" \
	test "$(grep -c 'swift: authenticated as' "$T_DIR/check.log")" -ge 3
check "no segments left behind (DLO)" test "$(swift_count snap_segments)" = 0
finish
