#!/bin/bash
# Keystone v3 and v2 password auth, region selection from the catalog, a ready-made token, and their
# errors, through the conformance checker. Keystone itself cannot run here: keystone.py stands in for
# its password auth and hands out real TempAuth tokens of the real Swift behind it.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/swift.sh"

CHECK=$SNAPFS_BUILD/tests/conformance/backend_check
[ -x "$CHECK" ] || die "backend_check not built: $CHECK"

start_swift
swift_mkcontainer snap
KS_PORT=$(free_port)
bg keystone "$SWIFT_PY" "$SNAPFS_SRC/tests/swift/keystone.py" "$KS_PORT" "$SWIFT_AUTH" "$SWIFT_USER" \
	"$SWIFT_KEY" 5 >/dev/null
wait_http "http://127.0.0.1:$KS_PORT/" 20

# secret DIR KEY=VALUE...: a --secret-dir as kubectl makes it
secret() {
	local d=$T_DIR/$1 kv
	shift
	mkdir -p "$d"
	for kv in "$@"; do printf '%s' "${kv#*=}" >"$d/${kv%%=*}"; done
	chmod 600 "$d"/*
}
V3=(OS_AUTH_URL="http://127.0.0.1:$KS_PORT/v3" OS_USERNAME=admin OS_USER_DOMAIN_NAME=Default
    OS_PROJECT_NAME=admin OS_PROJECT_DOMAIN_NAME=Default)
secret v3 "${V3[@]}" OS_PASSWORD=keystone-pass OS_REGION_NAME=RegionOne
secret v3bad "${V3[@]}" OS_PASSWORD=not-the-password OS_REGION_NAME=RegionOne
secret v3mars "${V3[@]}" OS_PASSWORD=keystone-pass OS_REGION_NAME=Mars
secret v2 OS_AUTH_URL="http://127.0.0.1:$KS_PORT/v2.0" OS_USERNAME=admin OS_PASSWORD=keystone-pass \
	OS_TENANT_NAME=admin OS_REGION_NAME=RegionOne
swift_token
secret token OS_STORAGE_URL="$SWIFT_STORAGE_URL" OS_AUTH_TOKEN="$SWIFT_TOKEN"
secret unreachable ST_AUTH="http://127.0.0.1:9/auth/v1.0" ST_USER=test:tester ST_KEY=testing

# tokens live 5 s: the checker's run renews them before they expire
check "Keystone v3: conformance (tokens renewed on expiry)" "$CHECK" swift://snap --secret-dir "$T_DIR/v3" \
	--bad-secret-dir "$T_DIR/v3bad" --many 40 --big-mib 8 --hold 5 2>"$T_DIR/v3.log"
check "Keystone v3: the token was renewed before it expired" \
	test "$(grep -c 'swift: authenticated as' "$T_DIR/v3.log")" -ge 2
check "Keystone v2: conformance" "$CHECK" swift://snap --secret-dir "$T_DIR/v2" --many 0 --big-mib 4
check "a ready OS_STORAGE_URL and OS_AUTH_TOKEN: conformance" "$CHECK" swift://snap \
	--secret-dir "$T_DIR/token" --many 0 --big-mib 4

# open() failures: one line each, naming the problem
open_err() { { "$CHECK" "$@" --many 0 --big-mib 1 2>/dev/null || true; } | sed -n 's/^not ok - open: //p'; }
out=$(open_err swift://snap --secret-dir "$T_DIR/v3mars")
check "no object-store endpoint in the region: says so" grep -q "no public object-store endpoint in region Mars" \
	<<<"$out"
check "and names the regions there are" grep -q "RegionOne, RegionTwo" <<<"$out"
out=$(open_err swift://snap --secret-dir "$T_DIR/v3" --region RegionTwo)
check "--region picks the endpoint (RegionTwo is down)" grep -q "cannot reach the storage URL" <<<"$out"
out=$(open_err swift://snap --secret-dir "$T_DIR/v3bad")
check "Keystone v3: bad password" grep -q "authentication failed for user admin (Keystone v3" <<<"$out"
check "Keystone v3: the password is not shown" bash -c '! grep -q not-the-password <<<"$1"' _ "$out"
out=$(open_err swift://snap --secret-dir "$T_DIR/unreachable")
check "unreachable auth URL: says so" grep -q "cannot reach the auth URL at http://127.0.0.1:9" <<<"$out"
out=$(open_err swift://nothing-here --secret-dir "$T_DIR/token")
check "token auth: missing container" grep -q "container 'nothing-here' does not exist" <<<"$out"
finish
