#!/bin/bash
# Keystone's Identity API v2.0 (password auth with a tenant, region selection from the v2 catalog) through
# the conformance checker, and an auth URL nobody answers. Keystone removed v2.0 (Queens, 2018): the real
# Keystone that t_keystone.sh runs cannot serve it, so tests/swift/keystone.py stands in for its v2.0
# password auth and hands out real TempAuth tokens of the real Swift behind it. Everything v3 is tested
# against the real Keystone in t_keystone.sh.
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
V2=(OS_AUTH_URL="http://127.0.0.1:$KS_PORT/v2.0" OS_USERNAME=admin OS_TENANT_NAME=admin)
secret v2 "${V2[@]}" OS_PASSWORD=keystone-pass OS_REGION_NAME=RegionOne
secret v2bad "${V2[@]}" OS_PASSWORD=not-the-password OS_REGION_NAME=RegionOne
secret v2mars "${V2[@]}" OS_PASSWORD=keystone-pass OS_REGION_NAME=Mars
secret unreachable ST_AUTH="http://127.0.0.1:9/auth/v1.0" ST_USER=test:tester ST_KEY=testing

# tokens live 5 s: the checker's run renews them before they expire
check "Keystone v2.0: conformance (tokens renewed on expiry)" "$CHECK" swift://snap --secret-dir "$T_DIR/v2" \
	--bad-secret-dir "$T_DIR/v2bad" --many 10 --big-mib 4 --hold 5 2>"$T_DIR/v2.log"
check "Keystone v2.0: the token was renewed before it expired" \
	test "$(grep -c 'swift: authenticated as' "$T_DIR/v2.log")" -ge 2

# open() failures: one line each, naming the problem
open_err() { { "$CHECK" "$@" --many 0 --big-mib 1 2>/dev/null || true; } | sed -n 's/^not ok - open: //p'; }
out=$(open_err swift://snap --secret-dir "$T_DIR/v2mars")
check "Keystone v2.0: no object-store endpoint in the region: says so" \
	grep -q "no public object-store endpoint in region Mars" <<<"$out"
out=$(open_err swift://snap --secret-dir "$T_DIR/v2bad")
check "Keystone v2.0: bad password" grep -q "authentication failed for user admin (Keystone v2" <<<"$out"
check "Keystone v2.0: the password is not shown" bash -c '! grep -q not-the-password <<<"$1"' _ "$out"
out=$(open_err swift://snap --secret-dir "$T_DIR/unreachable")
check "unreachable auth URL: says so" grep -q "cannot reach the auth URL at http://127.0.0.1:9" <<<"$out"
finish
