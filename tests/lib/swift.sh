# A one-node OpenStack Swift (Debian's swift packages) on 127.0.0.1 for the tests: account, container,
# object and proxy servers plus memcached (TempAuth keeps its tokens there), each on a free port, with
# rings, config and devices under the test's own folder. Replicators, updaters and auditors are not
# started: one replica needs none of them, and leaving them out keeps start-up to a few seconds.
# workers = 0 runs each server as one process without a forked worker, so the PID that `bg` records is
# the one serving and stopping it leaves nothing behind (a forked worker would outlive its killed parent).
# Use after common.sh:
#   start_swift [noslo] [nobulk] [token_life=SECONDS] [mem=MIB (RGW's memstore)]
# sets SWIFT_URL (proxy base), SWIFT_AUTH (TempAuth v1 URL), SWIFT_USER, SWIFT_KEY, SWIFT_STORAGE_URL,
# SWIFT_TOKEN (a token for curl), SWIFT_ACCOUNT (the storage URL's path) and SWIFT_SECRET (a
# --secret-dir holding ST_AUTH, ST_USER, ST_KEY).
# Helpers: swift_curl ARGS... (curl with the token, paths relative to the storage URL),
# swift_mkcontainer NAME, swift_count CONTAINER [PREFIX] (objects in a container).

# Debian's swift modules live in the interpreter its scripts name, which need not be the first python3
# on PATH
SWIFT_PY=$(sed -n '1s/^#! *//p' "$(command -v swift-ring-builder || echo /dev/null)")
: "${SWIFT_PY:=python3}"

SNAPFS_SWIFT_SH=1
# SWIFT_SERVER=rgw runs the same tests against Ceph RGW's Swift API (tests/lib/rgw.sh) instead; a test
# that names both in a "# snapfs-servers:" line is registered once for each (tests/CMakeLists.txt)
: "${SWIFT_SERVER:=swift}"

# low_ports N: N distinct free ports from one short-lived interpreter (free_port costs ~0.5 s a call),
# below the kernel's ephemeral range so that no client connection on the machine can be holding them.
# Also for tests/lib/rgw.sh, which sources this file.
low_ports() {
	python3 -S -c '
import random, socket, sys
ports = []
while len(ports) < int(sys.argv[1]):
    p = random.randint(20000, 32000)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    if p not in ports:
        ports.append(p)
print(" ".join(map(str, ports)))' "$1"
}

start_swift() {
	local slo=1 bulk=1 token_life=86400 mem=256 a try
	for a in "$@"; do
		case $a in
		noslo) slo=0 ;;
		nobulk) bulk=0 ;;
		token_life=*) token_life=${a#token_life=} ;;
		mem=*) mem=${a#mem=} ;;
		*) die "start_swift: unknown option $a" ;;
		esac
	done
	case $SWIFT_SERVER in
	swift) ;;
	rgw)
		# RGW cannot switch SLO or bulk delete off: a test that needs them off says what it does instead
		[ "$slo$bulk" = 11 ] || die "start_swift: noslo and nobulk do not exist on RGW"
		source "$SNAPFS_SRC/tests/lib/rgw.sh"
		start_rgw mem="$mem" token_life="$token_life"
		SWIFT_ACCOUNT=/swift/v1
		# RGW 16 never gives an SLO's manifest back: snapfs's probe makes large objects DLOs there
		SWIFT_LARGE=dlo
		export SWIFT_ACCOUNT SWIFT_LARGE
		return 0
		;;
	*) die "SWIFT_SERVER must be swift or rgw, not $SWIFT_SERVER" ;;
	esac
	SWIFT_ACCOUNT=/v1/AUTH_test
	SWIFT_LARGE=slo
	[ "$slo" = 1 ] || SWIFT_LARGE=dlo
	export SWIFT_ACCOUNT SWIFT_LARGE
	command -v swift-proxy-server >/dev/null || die "swift-proxy-server not installed (tools/deps.sh)"
	command -v memcached >/dev/null || die "memcached not installed (tools/deps.sh)"
	# a port found free can be taken before the server binds it (by another test on the machine):
	# then that server exits and the whole set starts again on new ports
	for try in 1 2 3; do
		if swift_start_once "$try" "$slo" "$bulk" "$token_life"; then
			return 0
		fi
		log "swift: a server exited during start-up (port taken?); starting again"
	done
	die "swift did not start in 3 attempts"
}

# swift_alive PID...: all still running
swift_alive() {
	local p
	for p in "$@"; do kill -0 "$p" 2>/dev/null || return 1; done
}

swift_start_once() {
	local try=$1 slo=$2 bulk=$3 token_life=$4
	local dir=$T_DIR/swift-$try
	local dev=$dir/srv
	mkdir -p "$dir" "$dev/d1"
	local mc_port acc_port con_port obj_port proxy_port
	read -r mc_port acc_port con_port obj_port proxy_port < <(low_ports 5)

	# Our own swift.conf: the servers read it from swift_dir, so the host's /etc/swift does not matter.
	cat >"$dir/swift.conf" <<EOF
[swift-hash]
swift_hash_path_suffix = snapfs-test
swift_hash_path_prefix = snapfs-test

[storage-policy:0]
name = Policy-0
default = yes
EOF

	# One python process builds the three rings (swift-ring-builder would need nine runs, ~5 s), while
	# the storage servers start: only the proxy reads the rings.
	EVENTLET_NO_GREENDNS=yes "$SWIFT_PY" - "$dir" "$acc_port" "$con_port" "$obj_port" \
		>"$T_DIR/swift-rings.log" 2>&1 <<'PY' &
import sys
from swift.common.ring import RingBuilder
d = sys.argv[1]
for name, port in (("account", sys.argv[2]), ("container", sys.argv[3]), ("object", sys.argv[4])):
    b = RingBuilder(6, 1, 1)
    b.add_dev({"id": 0, "region": 1, "zone": 1, "ip": "127.0.0.1", "port": int(port),
               "device": "d1", "weight": 1, "meta": ""})
    b.rebalance()
    b.save("%s/%s.builder" % (d, name))
    b.get_ring().save("%s/%s.ring.gz" % (d, name))
PY
	local rings_pid=$!

	local kind port
	for kind in account container object; do
		case $kind in
		account) port=$acc_port ;;
		container) port=$con_port ;;
		object) port=$obj_port ;;
		esac
		cat >"$dir/$kind-server.conf" <<EOF
[DEFAULT]
devices = $dev
mount_check = false
disable_fallocate = true
swift_dir = $dir
bind_ip = 127.0.0.1
bind_port = $port
workers = 0
user = root
log_level = WARNING

[pipeline:main]
pipeline = $kind-server

[app:$kind-server]
use = egg:swift#$kind
EOF
		# A busy machine can make the object server's container update miss its 1 s default; the
		# update then waits for an object-updater that does not run here, and the listing the tests
		# count would lag for good. Real clusters run the updater; here the update waits instead.
		[ "$kind" = object ] && echo "container_update_timeout = 60" >>"$dir/$kind-server.conf"
	done

	local pipeline="catch_errors gatekeeper healthcheck proxy-logging cache listing_formats"
	[ "$bulk" = 1 ] && pipeline="$pipeline bulk"
	pipeline="$pipeline tempauth copy"
	[ "$slo" = 1 ] && pipeline="$pipeline slo"
	pipeline="$pipeline dlo proxy-logging proxy-server"
	cat >"$dir/proxy-server.conf" <<EOF
[DEFAULT]
swift_dir = $dir
bind_ip = 127.0.0.1
bind_port = $proxy_port
workers = 0
user = root
log_level = WARNING

[pipeline:main]
pipeline = $pipeline

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin
token_life = $token_life

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$mc_port

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:bulk]
use = egg:swift#bulk

[filter:copy]
use = egg:swift#copy

[filter:slo]
use = egg:swift#slo

[filter:dlo]
use = egg:swift#dlo
EOF

	# memcached refuses to run as root without -u; the memcache user comes with Debian's package
	local mc_user=root
	id memcache >/dev/null 2>&1 && mc_user=memcache
	local pids=()
	bg swift-memcached memcached -u "$mc_user" -l 127.0.0.1 -p "$mc_port" -U 0 >/dev/null
	pids+=("${T_PIDS[-1]}")
	# -v: the servers log to syslog, which does not run here; -v copies their log to stderr.
	# EVENTLET_NO_GREENDNS: the green resolver costs each server ~0.6 s of start-up; we use IPs only.
	local e=(env EVENTLET_NO_GREENDNS=yes)
	bg swift-account "${e[@]}" swift-account-server "$dir/account-server.conf" -v >/dev/null
	pids+=("${T_PIDS[-1]}")
	bg swift-container "${e[@]}" swift-container-server "$dir/container-server.conf" -v >/dev/null
	pids+=("${T_PIDS[-1]}")
	bg swift-object "${e[@]}" swift-object-server "$dir/object-server.conf" -v >/dev/null
	pids+=("${T_PIDS[-1]}")
	wait "$rings_pid" || die "swift ring build failed: $(tail -n 3 "$T_DIR/swift-rings.log")"
	bg swift-proxy "${e[@]}" swift-proxy-server "$dir/proxy-server.conf" -v >/dev/null
	pids+=("${T_PIDS[-1]}")

	SWIFT_URL=http://127.0.0.1:$proxy_port
	SWIFT_AUTH=$SWIFT_URL/auth/v1.0
	SWIFT_USER=test:tester
	SWIFT_KEY=testing
	local i ok=0
	for i in $(seq 300); do
		swift_alive "${pids[@]}" || break
		if [ "$(curl -s --max-time 2 "$SWIFT_URL/healthcheck" 2>/dev/null)" = OK ] && swift_token 1; then
			ok=1
			break
		fi
		sleep 0.1
	done
	# The backend servers come up on their own time: wait until a real container PUT works end to end.
	if [ "$ok" = 1 ]; then
		ok=0
		for i in $(seq 300); do
			swift_alive "${pids[@]}" || break
			if swift_curl -X PUT -o /dev/null -w '%{http_code}' /snapfs-ready 2>/dev/null | grep -q '^20'
			then
				ok=1
				break
			fi
			sleep 0.1
		done
	fi
	if [ "$ok" != 1 ]; then
		kill "${pids[@]}" 2>/dev/null || true
		for f in account container object proxy; do
			mv "$T_DIR/swift-$f.log" "$T_DIR/swift-$f-try$try.log" 2>/dev/null || true
		done
		swift_alive "${pids[@]}" && die "swift did not come up in 30 s"
		return 1
	fi
	swift_curl -X DELETE -o /dev/null /snapfs-ready || true

	# the secret as `kubectl create secret generic --from-file` lays it out
	SWIFT_SECRET=$T_DIR/swift-secret
	mkdir -p "$SWIFT_SECRET"
	printf '%s' "$SWIFT_AUTH" >"$SWIFT_SECRET/ST_AUTH"
	printf '%s' "$SWIFT_USER" >"$SWIFT_SECRET/ST_USER"
	printf '%s' "$SWIFT_KEY" >"$SWIFT_SECRET/ST_KEY"
	chmod 600 "$SWIFT_SECRET"/*
	# the cluster's rings and configs: tests/lib/keystone.sh adds a proxy server there
	SWIFT_DIR=$dir
	export SWIFT_URL SWIFT_AUTH SWIFT_USER SWIFT_KEY SWIFT_SECRET SWIFT_DIR
	log "swift up at $SWIFT_URL (slo=$slo bulk=$bulk)"
}

# swift_token [TRIES]: fetch a token and the storage URL with TempAuth v1
swift_token() {
	local i hdr
	for i in $(seq "${1:-100}"); do
		hdr=$(curl -s -D - -o /dev/null --max-time 5 -H "X-Auth-User: $SWIFT_USER" \
			-H "X-Auth-Key: $SWIFT_KEY" "$SWIFT_AUTH" 2>/dev/null | tr -d '\r') || hdr=
		SWIFT_TOKEN=$(sed -n 's/^[Xx]-[Aa]uth-[Tt]oken: //p' <<<"$hdr")
		SWIFT_STORAGE_URL=$(sed -n 's/^[Xx]-[Ss]torage-[Uu]rl: //p' <<<"$hdr")
		if [ -n "$SWIFT_TOKEN" ] && [ -n "$SWIFT_STORAGE_URL" ]; then
			export SWIFT_TOKEN SWIFT_STORAGE_URL
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# swift_curl [curl args...] PATH: PATH relative to the storage URL ("/container/object?query")
swift_curl() {
	local path=${*: -1}
	local args=("${@:1:$#-1}")
	curl -s -H "X-Auth-Token: $SWIFT_TOKEN" "${args[@]}" "$SWIFT_STORAGE_URL$path"
}

# swift_fresh [curl args...] PATH: swift_curl, asked again with a new token while the answer is 401 (a
# short-lived token can expire between swift_token and the request on a loaded machine); prints the
# output of the last try only. Non-zero when no try got past 401. (Takes no -w of its own.)
swift_fresh() {
	local i code tmp
	tmp=$(mktemp "$T_DIR/swift-fresh.XXXXXX")
	for i in $(seq 10); do
		if [ -z "${SWIFT_TOKEN:-}" ] || [ "$i" -gt 1 ]; then
			swift_token 50 || break
		fi
		code=$(swift_curl -w '%{stderr}%{http_code}' "$@" 2>&1 >"$tmp") || true
		[ "$code" = 401 ] && continue
		cat "$tmp"
		rm -f "$tmp"
		return 0
	done
	rm -f "$tmp"
	return 1
}

swift_mkcontainer() {
	local code i
	for i in $(seq 10); do
		code=$(swift_curl -X PUT -o /dev/null -w '%{http_code}' "/$1")
		case $code in
		20*) return 0 ;;
		401) swift_token 50 || break ;;   # the token expired (short-lived tokens): a new one
		*) break ;;
		esac
	done
	die "swift: PUT container $1 answered $code"
}

# swift_count CONTAINER [PREFIX]: number of objects (0 for a missing container, "unknown" when no
# request got an answer)
swift_count() {
	local c=$1 p=${2:-}
	# a 401 is asked again with a new token, never counted as an empty container
	swift_fresh "/$c?format=json&prefix=$p&limit=10000" | "$SWIFT_PY" -c \
		'import json,sys
data = sys.stdin.read()
try:
    print(len(json.loads(data)))
except ValueError:
    print(0 if data else "unknown")'
}

# is_large_object HEADERS_FILE: the headers (curl -D or -I) show the large-object kind snapfs makes on
# this server (SWIFT_LARGE: an SLO on Swift, a DLO where SLO is off or where, as on RGW, it cannot be
# managed)
is_large_object() {
	case $SWIFT_LARGE in
	slo) tr -d '\r' <"$1" | grep -qi '^X-Static-Large-Object: True' ;;
	dlo) tr -d '\r' <"$1" | grep -qi '^X-Object-Manifest: ' ;;
	esac
}
