# A real Keystone v3 (Debian's keystone, Zed) under uwsgi with SQLite and fernet tokens, and a second
# Swift proxy server that authenticates through it (authtoken + keystoneauth), in front of the cluster
# start_swift made (the TempAuth proxy stays as it was). All state is under $T_DIR/keystone; the servers
# are stopped by PID (common.sh's trap, or stop_keystone).
# Use after common.sh and swift.sh:
#   start_keystone [expiration=SECONDS]   start_swift first. The Keystone setup runs while start_swift
#                                          runs if keystone_prepare was called before it (it is ~15 s).
#   keystone_prepare [expiration=SECONDS] start the database and key setup in the background
# Sets KS_URL (http://127.0.0.1:PORT/v3), KS_SWIFT_URL (the Keystone-authenticated Swift proxy),
# KS_DEMO_PROJECT_ID, KS_START_S (seconds the bring-up took). Users, all in domain Default:
#   admin / $KS_ADMIN_PASS  (project admin, role admin; from keystone-manage bootstrap)
#   demo / $KS_DEMO_PASS    (project demo, role member: the user snapfs mounts as)
#   swift / $KS_SWIFT_PASS  (project service, role admin: the Swift proxy's own service user)
# Catalog: object-store in RegionOne (public and internal, the Keystone Swift proxy) and RegionTwo
# (public, a port nothing listens on).
# Passwords are hashed with bcrypt's fewest rounds (4): at the default 12, each password authentication
# costs Keystone 0.5-1.5 s of CPU on a loaded 2-core machine.
# Helpers: ks_token USER PASSWORD PROJECT (prints a project-scoped token), ks_curl TOKEN ARGS... PATH
# (curl against the demo account on the Keystone Swift proxy), ks_replace_keys (new fernet keys: every
# token issued so far is refused from then on), stop_keystone.

KS_PY=/usr/bin/python3   # Debian's keystone modules live there, not in a python3 earlier on PATH
KS_ADMIN_PASS=ks-admin-pass
KS_DEMO_PASS=ks-demo-pass
KS_SWIFT_PASS=ks-swift-pass
KS_DIR=$T_DIR/keystone

keystone_prepare() {
	local expiration=3600 a
	for a in "$@"; do
		case $a in
		expiration=*) expiration=${a#expiration=} ;;
		*) die "keystone_prepare: unknown option $a" ;;
		esac
	done
	command -v keystone-manage >/dev/null || die "keystone not installed (tools/deps.sh)"
	command -v uwsgi >/dev/null || die "uwsgi not installed (tools/deps.sh)"
	KS_T0=$(date +%s%N)
	KS_PORT=$(free_port)
	mkdir -p "$KS_DIR/log"
	cat >"$KS_DIR/keystone.conf" <<EOF
[DEFAULT]
log_dir = $KS_DIR/log
log_file = keystone.log

[database]
connection = sqlite:///$KS_DIR/keystone.db

[identity]
password_hash_rounds = 4

[token]
provider = fernet
expiration = $expiration

[fernet_tokens]
key_repository = $KS_DIR/fernet-keys

[fernet_receipts]
key_repository = $KS_DIR/fernet-keys

[credential]
key_repository = $KS_DIR/credential-keys
EOF
	# keystone-manage is a few seconds of imports each time: one shell runs them in turn, in the
	# background, while the caller starts Swift
	(
		set -e
		m() {
			local t0
			t0=$(date +%s%N)
			keystone-manage --config-file "$KS_DIR/keystone.conf" "$@"
			echo "keystone-manage $1: $((($(date +%s%N) - t0) / 1000000)) ms"
		}
		m db_sync
		# WAL: readers do not wait for the writer (SQLite otherwise answers "database is locked")
		"$KS_PY" -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute("PRAGMA journal_mode=WAL")' \
			"$KS_DIR/keystone.db"
		# what fernet_setup and credential_setup make, without their ~3 s (20 s on a loaded machine) of
		# imports each
		ks_make_keys "$KS_DIR/fernet-keys"
		ks_make_keys "$KS_DIR/credential-keys"
		m bootstrap --bootstrap-password "$KS_ADMIN_PASS" --bootstrap-region-id RegionOne \
			--bootstrap-admin-url "http://127.0.0.1:$KS_PORT/v3" \
			--bootstrap-internal-url "http://127.0.0.1:$KS_PORT/v3" \
			--bootstrap-public-url "http://127.0.0.1:$KS_PORT/v3"
	) >"$T_DIR/keystone-setup.log" 2>&1 &
	KS_SETUP_PID=$!
	T_PIDS+=("$KS_SETUP_PID")
}

start_keystone() {
	[ -n "${KS_SETUP_PID:-}" ] || keystone_prepare "$@"
	[ -n "${SWIFT_URL:-}" ] || die "start_keystone: start_swift first"
	wait "$KS_SETUP_PID" || die "keystone setup failed: $(tail -n 5 "$T_DIR/keystone-setup.log")"
	KS_SETUP_PID=
	KS_URL=http://127.0.0.1:$KS_PORT/v3
	# one process, one thread: SQLite with more gives "database is locked" 500s. uwsgi's plain HTTP
	# socket closes each connection after its reply: "Connection: close" says so, or a client that
	# reuses the connection (the Swift proxy's middleware) meets a dropped request
	bg keystone env OS_KEYSTONE_CONFIG_FILES="$KS_DIR/keystone.conf" uwsgi --plugins python3 \
		--http-socket "127.0.0.1:$KS_PORT" --wsgi-file /usr/bin/keystone-wsgi-public --master --processes 1 \
		--threads 1 --die-on-term --buffer-size 65535 --add-header "Connection: close" >/dev/null
	KS_PID=${T_PIDS[-1]}
	local n
	for n in $(seq 600); do
		kill -0 "$KS_PID" 2>/dev/null || die "keystone (uwsgi) exited: $(tail -n 5 "$T_DIR/keystone.log")"
		[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$KS_URL")" = 200 ] && break
		[ "$n" -lt 600 ] || die "keystone did not answer at $KS_URL in 60 s"
		sleep 0.1
	done
	ks_start_proxy
	ks_setup_catalog
	KS_START_S=$(awk "BEGIN { printf \"%.1f\", ($(date +%s%N) - $KS_T0) / 1e9 }")
	log "keystone up at $KS_URL, Swift through it at $KS_SWIFT_URL (bring-up ${KS_START_S} s;" \
		"$(sed -n 's/^keystone-manage \(.*\)/\1/p' "$T_DIR/keystone-setup.log" | paste -sd, -))"
	export KS_URL KS_SWIFT_URL KS_DEMO_PROJECT_ID KS_START_S
}

# ks_start_proxy: a Swift proxy server on the cluster start_swift made, with Keystone's middleware
# in place of TempAuth
ks_start_proxy() {
	local conf=$SWIFT_DIR/proxy-keystone.conf mc
	KS_SWIFT_PORT=$(free_port)
	KS_SWIFT_URL=http://127.0.0.1:$KS_SWIFT_PORT
	mc=$(sed -n 's/^memcache_servers = //p' "$SWIFT_DIR/proxy-server.conf")
	sed -e "s/^bind_port = .*/bind_port = $KS_SWIFT_PORT/" \
		-e "/^pipeline = /s/ tempauth / authtoken keystoneauth /" "$SWIFT_DIR/proxy-server.conf" >"$conf"
	grep -q "^pipeline = .* authtoken keystoneauth " "$conf" || die "ks_start_proxy: no tempauth in the pipeline"
	# token_cache_time: the middleware trusts a token it has checked for 5 s (300 by default), so
	# replaced keys show within seconds; checking every request would cost two Keystone requests
	# each (with tokens shorter than 120 s, the middleware authenticates itself anew for every check)
	cat >>"$conf" <<EOF

[filter:authtoken]
paste.filter_factory = keystonemiddleware.auth_token:filter_factory
www_authenticate_uri = $KS_URL
auth_url = $KS_URL
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = swift
password = $KS_SWIFT_PASS
delay_auth_decision = true
memcached_servers = $mc
token_cache_time = 5

[filter:keystoneauth]
use = egg:swift#keystoneauth
operator_roles = admin, member
EOF
	bg swift-proxy-keystone env EVENTLET_NO_GREENDNS=yes swift-proxy-server "$conf" -v >/dev/null
	KS_SWIFT_PID=${T_PIDS[-1]}
	local n
	for n in $(seq 300); do
		kill -0 "$KS_SWIFT_PID" 2>/dev/null || die "the Keystone Swift proxy exited: $(tail -n 5 "$T_DIR/swift-proxy-keystone.log")"
		[ "$(curl -s --max-time 2 "$KS_SWIFT_URL/healthcheck")" = OK ] && break
		[ "$n" -lt 300 ] || die "the Keystone Swift proxy did not come up"
		sleep 0.1
	done
}

# ks_setup_catalog: projects, users, roles, the object-store service and its endpoints, through the
# identity API as admin (one python process: the openstack CLI costs seconds a call)
ks_setup_catalog() {
	KS_DEAD_PORT=$(free_port)
	KS_DEMO_PROJECT_ID=$("$KS_PY" - "$KS_URL" "$KS_ADMIN_PASS" "$KS_SWIFT_PASS" "$KS_DEMO_PASS" \
		"$KS_SWIFT_URL" "http://127.0.0.1:$KS_DEAD_PORT" 2>"$T_DIR/keystone-catalog.log" <<'PY'
import json, sys, urllib.request
ks, admin_pw, swift_pw, demo_pw, swift_url, dead_url = sys.argv[1:]

def call(method, path, body=None, token=None):
    req = urllib.request.Request(ks + path, method=method, data=json.dumps(body).encode() if body else None)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("X-Auth-Token", token)
    with urllib.request.urlopen(req, timeout=60) as r:
        data = r.read()
        return r.headers, json.loads(data) if data else None

h, _ = call("POST", "/auth/tokens", {"auth": {
    "identity": {"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"id": "default"},
                                                                 "password": admin_pw}}},
    "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}})
tok = h["X-Subject-Token"]
role = {r["name"]: r["id"] for r in call("GET", "/roles", token=tok)[1]["roles"]}
ids = {}
for project, user, pw, r in (("service", "swift", swift_pw, "admin"), ("demo", "demo", demo_pw, "member")):
    p = call("POST", "/projects", {"project": {"name": project, "domain_id": "default"}}, tok)[1]["project"]["id"]
    u = call("POST", "/users", {"user": {"name": user, "domain_id": "default", "password": pw,
                                         "default_project_id": p}}, tok)[1]["user"]["id"]
    call("PUT", "/projects/%s/users/%s/roles/%s" % (p, u, role[r]), token=tok)
    ids[project] = p
svc = call("POST", "/services", {"service": {"type": "object-store", "name": "swift"}}, tok)[1]["service"]["id"]
call("POST", "/regions", {"region": {"id": "RegionTwo"}}, tok)
for region, iface, base in (("RegionOne", "public", swift_url), ("RegionOne", "internal", swift_url),
                            ("RegionTwo", "public", dead_url)):
    call("POST", "/endpoints", {"endpoint": {"service_id": svc, "interface": iface, "region_id": region,
                                             "url": base + "/v1/AUTH_%(project_id)s"}}, tok)
print(ids["demo"])
PY
	) || die "keystone catalog setup failed: $(tail -n 5 "$T_DIR/keystone-catalog.log")"
}

# ks_token USER PASSWORD PROJECT: a project-scoped token (empty output when refused)
ks_token() {
	curl -s -D - -o /dev/null --max-time 30 -H "Content-Type: application/json" -d '{"auth": {"identity":
		{"methods": ["password"], "password": {"user": {"name": "'"$1"'", "domain": {"id": "default"},
		"password": "'"$2"'"}}}, "scope": {"project": {"name": "'"$3"'", "domain": {"id": "default"}}}}}' \
		"$KS_URL/auth/tokens" | tr -d '\r' | sed -n 's/^[Xx]-[Ss]ubject-[Tt]oken: //p'
}

# ks_curl TOKEN [curl args...] PATH: PATH relative to the demo account ("/container/object")
ks_curl() {
	local tok=$1; shift
	local path=${*: -1}
	local args=("${@:1:$#-1}")
	curl -s --max-time 60 -H "X-Auth-Token: $tok" "${args[@]}" "$KS_SWIFT_URL/v1/AUTH_$KS_DEMO_PROJECT_ID$path"
}

# ks_make_keys DIR: a key repository as keystone-manage fernet_setup leaves it: key 1 the primary one,
# key 0 the staged one, each 32 random bytes in URL-safe base64, in a folder only its owner reads
ks_make_keys() {
	mkdir -p -m 700 "$1"
	"$KS_PY" -S -c 'import base64, os, sys
for n in "0", "1":
    with open(os.path.join(sys.argv[1], n), "w", opener=lambda p, f: os.open(p, f, 0o600)) as f:
        f.write(base64.urlsafe_b64encode(os.urandom(32)).decode())' "$1"
}

# ks_replace_keys: a new fernet key repository in place of the old one. Keystone reads the keys for every
# token it issues or checks, so the tokens made with the old ones are refused (401) from then on (by the
# Swift proxy once its middleware's cache of a token, token_cache_time, has run out).
ks_replace_keys() {
	rm -rf "$KS_DIR/fernet-keys.new"
	ks_make_keys "$KS_DIR/fernet-keys.new"
	rm -rf "$KS_DIR/fernet-keys"
	mv "$KS_DIR/fernet-keys.new" "$KS_DIR/fernet-keys"
}

stop_keystone() {
	local p
	for p in "${KS_SWIFT_PID:-}" "${KS_PID:-}"; do
		[ -n "$p" ] || continue
		kill "$p" 2>/dev/null || true
		for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	done
	KS_PID= KS_SWIFT_PID=
}
