#!/bin/bash
# snapctl verify against a file:// store: the SHA-256 in the user.snapfs.sha256 xattr; a file put there
# by another tool has no checksum to compare; bad usage.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/snapctl/lib.sh"
source "$SNAPFS_SRC/tests/snapctl/verify_lib.sh"

VOL=$T_DIR/vol
mkdir -p "$VOL"
verify_suite "file://$VOL" "$VOL"

# written by another tool: read whole, nothing to compare with; exit 3
mkdir -p "$VOL/kubedb/demo/my/my-20250101-000000"
echo "SELECT 1;" >"$VOL/kubedb/demo/my/my-20250101-000000/dump.sql"
rc=0; sc verify "file://$VOL" demo/my/my-20250101-000000 || rc=$?
cat "$T_DIR/out" "$T_DIR/err"
check "no checksum: exit 3" test "$rc" = 3
check "no checksum: says so plainly" has "$T_DIR/out" '^NO-CHECKSUM +demo/my/my-20250101-000000/dump\.sql .*no checksum to compare$'
check "no checksum: summary" has "$T_DIR/err" 'had no checksum to compare'

check "verify without a snapshot: usage" fails "$SNAPCTL" verify "file://$VOL"
check "verify NS/DB without --all: refused" fails "$SNAPCTL" verify "file://$VOL" demo/pg
check "verify --jobs 0: refused" fails "$SNAPCTL" verify "file://$VOL" demo/pg/good --jobs 0
check "verify --jobs 0: one line" one_line "$T_DIR/err"
finish
