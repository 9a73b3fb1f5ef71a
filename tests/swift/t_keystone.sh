#!/bin/bash
# snapfs mounted through a real Keystone v3 (Debian's keystone, Zed: uwsgi, SQLite, fernet tokens) in
# front of Debian's Swift (authtoken + keystoneauth), as a user would mount it (tests/lib/keystone.sh):
# - a ready token (OS_STORAGE_URL + OS_AUTH_TOKEN): mounted, a file written and read back;
# - password auth (OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, domains, project, OS_REGION_NAME): mounted, an
#   SLO and a small file written and read back straight from Swift with a token of the test's own, and the
#   conformance checker through it;
# - a wrong password, a region with no object-store endpoint, a region whose endpoint is down: the mount
#   fails with one line (the password never shown);
# - token expiry: tokens live LIFE s ([token] expiration; Keystone takes any value from 0): a writer that
#   takes longer than that goes on across it, snapfs authenticates again ahead of the expiry, and a token
#   the test got at the same time as the mount's is refused (401) by then;
# - revocation: new fernet keys make every token invalid (401, once the Swift proxy's middleware stops
#   trusting what it checked before: 5 s here): snapfs meets the 401, authenticates again with the
#   password, and the write succeeds.
# Keystone removed the v2.0 API (Queens), so t_keystone_v2.sh keeps the stand-in for v2.0. Keystone is
# brought up once for this file; the bring-up time is logged.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/swift.sh"
source "$SNAPFS_SRC/tests/lib/keystone.sh"
source "$SNAPFS_SRC/tests/lib/probe.sh"

CHECK=$SNAPFS_BUILD/tests/conformance/backend_check
[ -x "$CHECK" ] || die "backend_check not built: $CHECK"
LIFE=30

keystone_prepare expiration=$LIFE   # the database and keys are made while Swift starts
start_swift
start_keystone

# token: a fresh token of the demo user (retried: the single-threaded Keystone may be busy)
token() {
	local t i
	for i in $(seq 20); do
		t=$(ks_token demo "$KS_DEMO_PASS" demo)
		[ -n "$t" ] && { echo "$t"; return 0; }
		sleep 0.5
	done
	return 1
}
# stored KEY FILE: the object at KEY in container kubedb is FILE's bytes, read straight from Swift
stored() {
	local t
	t=$(token) || return 1
	ks_curl "$t" -o "$T_DIR/stored.bin" "/kubedb/$1" && cmp -s "$2" "$T_DIR/stored.bin"
}
# status TOKEN: what Swift answers a HEAD of the container with that token
status() { ks_curl "$1" -o /dev/null -w '%{http_code}' -I /kubedb; }
# secret DIR KEY=VALUE...: a --secret-dir as kubectl makes it
secret() {
	local d=$T_DIR/$1 kv
	shift
	mkdir -p "$d"
	for kv in "$@"; do printf '%s' "${kv#*=}" >"$d/${kv%%=*}"; done
	chmod 600 "$d"/*
}
# auths NAME: how often the mount NAME authenticated
auths() { grep -c 'swift: authenticated as user demo' "$T_DIR/snapfs-mnt-$1.log" || true; }

TOK=$(token) || die "Keystone gave the demo user no token"
code=$(ks_curl "$TOK" -X PUT -o /dev/null -w '%{http_code}' /kubedb)
[[ $code == 20* ]] || die "PUT container kubedb through Keystone answered $code"
V3=(OS_AUTH_URL="$KS_URL" OS_USERNAME=demo OS_USER_DOMAIN_NAME=Default OS_PROJECT_NAME=demo
    OS_PROJECT_DOMAIN_NAME=Default)
secret v3 "${V3[@]}" OS_PASSWORD="$KS_DEMO_PASS" OS_REGION_NAME=RegionOne
secret v3bad "${V3[@]}" OS_PASSWORD=not-the-password OS_REGION_NAME=RegionOne
secret v3mars "${V3[@]}" OS_PASSWORD="$KS_DEMO_PASS" OS_REGION_NAME=Mars
secret token OS_STORAGE_URL="$KS_SWIFT_URL/v1/AUTH_$KS_DEMO_PROJECT_ID" OS_AUTH_TOKEN="$TOK"
head -c 100000 /dev/urandom >"$T_DIR/small"
head -c 20000000 /dev/urandom >"$T_DIR/big"

# ---------- a ready token (first: it lives LIFE s from now) ----------
probe_mount token swift://kubedb --secret-dir "$T_DIR/token" --cache-dir "$T_DIR/cache-token"
check "a ready token: mounted (the write check went through Keystone's middleware)" probe_ok token
mkdir -p "$T_DIR/mnt-token/kubedb/ns/db/token"
cp "$T_DIR/small" "$T_DIR/mnt-token/kubedb/ns/db/token/small"
check "a ready token: a file written is stored" stored kubedb/ns/db/token/small "$T_DIR/small"
umount_snapfs "$T_DIR/mnt-token"

# ---------- password auth ----------
probe_mount pw swift://kubedb --secret-dir "$T_DIR/v3" --cache-dir "$T_DIR/cache-pw"
check "password auth: mounted" probe_ok pw
check "password auth: authenticated as demo through Keystone v3" \
	grep -q "swift: authenticated as user demo (Keystone v3 at http://127.0.0.1:$KS_PORT); storage URL $KS_SWIFT_URL/v1/AUTH_$KS_DEMO_PROJECT_ID" \
	"$T_DIR/snapfs-mnt-pw.log"
D=$T_DIR/mnt-pw/kubedb/ns/db/pw
mkdir -p "$D"
cp "$T_DIR/small" "$D/small"
cp "$T_DIR/big" "$D/big"
check "password auth: a small file is stored" stored kubedb/ns/db/pw/small "$T_DIR/small"
check "password auth: a 20 MB file is stored (segments and an SLO manifest)" stored kubedb/ns/db/pw/big "$T_DIR/big"
check "password auth: reads back through the mount" same_file "$T_DIR/big" "$D/big"

# ---------- mounts that cannot work: one line each ----------
probe_mount bad swift://kubedb --secret-dir "$T_DIR/v3bad" --cache-dir "$T_DIR/cache-bad"
check "a wrong password: the mount fails with one line" probe_refused bad \
	"^snapfs: cannot mount swift://kubedb: .*authentication failed for user demo \(Keystone v3 at http://127.0.0.1:$KS_PORT\): HTTP 401, check OS_USERNAME, OS_PASSWORD and the project keys$"
check "and the password is not shown" bash -c '! grep -q not-the-password "$1" "$2"' _ "$T_DIR/bad.err" \
	"$T_DIR/snapfs-mnt-bad.log"
probe_mount mars swift://kubedb --secret-dir "$T_DIR/v3mars" --cache-dir "$T_DIR/cache-mars"
check "a region with no object-store endpoint: the mount fails with one line naming the regions there are" \
	probe_refused mars "no public object-store endpoint in region Mars \(the catalog has: RegionOne, RegionTwo\)"
probe_mount two swift://kubedb --secret-dir "$T_DIR/v3" --region RegionTwo --cache-dir "$T_DIR/cache-two"
check "--region RegionTwo (its endpoint is down): the mount fails with one line" probe_refused two \
	"cannot reach the storage URL http://127.0.0.1:$KS_DEAD_PORT/v1/AUTH_$KS_DEMO_PROJECT_ID"
check "conformance through Keystone v3" "$CHECK" swift://kubedb/conformance --secret-dir "$T_DIR/v3" \
	--bad-secret-dir "$T_DIR/v3bad" --many 20 --big-mib 8 2>"$T_DIR/conformance.log"

# ---------- token expiry: a writer that outlives the token ----------
# one MiB every 0.5 s for LIFE + 5 s: whatever token snapfs holds when it starts expires while it writes
n0=$(auths pw)
SAME_AGE=$(token)   # a token that is as old as the writer
STARTED=$(date +%s)
rc=0
(python3 - "$D/slow" "$((STARTED + LIFE + 5))" "$T_DIR/slow" <<'PY'
import os, sys, time
dst, until, copy = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(dst, "wb") as f, open(copy, "wb") as c:
    while time.time() < until:
        b = os.urandom(1 << 20)
        f.write(b)
        c.write(b)
        f.flush()
        time.sleep(0.5)
PY
) || rc=$?
check "a writer across the token's expiry: close succeeds" test "$rc" = 0
log "the writer wrote $(($(stat -c %s "$T_DIR/slow") >> 20)) MiB over $(($(date +%s) - STARTED)) s"
check "a token as old as the writer is refused by now (401)" test "$(status "$SAME_AGE")" = 401
check "snapfs authenticated again ahead of its token's expiry" test "$(auths pw)" -gt "$n0"
check "no request met an expired token" bash -c '! grep -q "token refused (401)" "$1"' _ "$T_DIR/snapfs-mnt-pw.log"
check "the slow file is stored" stored kubedb/ns/db/pw/slow "$T_DIR/slow"

# ---------- revocation: new fernet keys ----------
# on a fresh mount, so that its token is far from the renewal the expiry case shows
umount_snapfs "$T_DIR/mnt-pw"
probe_mount rev swift://kubedb --secret-dir "$T_DIR/v3" --cache-dir "$T_DIR/cache-rev"
check "a new mount" probe_ok rev
n0=$(auths rev)
OLD=$(token)
ks_replace_keys
old_refused() { [ "$(status "$OLD")" = 401 ]; }
# the proxy's middleware trusts a token it checked for 5 s (token_cache_time)
check "new fernet keys: a token made before is refused (401)" eventually old_refused
# writes until one meets the 401 (the mount's token stays trusted as long as the middleware's cache of it):
# every one of them must be stored
mkdir -p "$T_DIR/mnt-rev/kubedb/ns/db/rev"
met=0 lost=0
for i in $(seq 20); do
	cp "$T_DIR/small" "$T_DIR/mnt-rev/kubedb/ns/db/rev/after-$i" || lost=$((lost + 1))
	if grep -q "swift: token refused (401), authenticating again" "$T_DIR/snapfs-mnt-rev.log"; then
		met=$i
		break
	fi
	sleep 0.5
done
check "snapfs met the 401 and authenticated again with the password" test "$met" -gt 0
check "with a new token" test "$(auths rev)" -gt "$n0"
check "every write before and after it closed without error" test "$lost" = 0
check "and the write that met it is stored" stored "kubedb/ns/db/rev/after-$met" "$T_DIR/small"
umount_snapfs "$T_DIR/mnt-rev"
finish
