# A throwaway single-node Ceph cluster with the RADOS Gateway (radosgw, Debian's ceph packages) on
# 127.0.0.1: one monitor, one OSD on memstore (data in RAM, nothing on disk), radosgw with an S3 user
# and a Swift subuser. Ready in about 3-4 s. Unlike s3rver it verifies every SigV4 signature and enforces
# the multipart rules (5 MiB minimum part), so it is the S3 (and second Swift) server of the tests.
# Use after common.sh:
#   start_rgw [mem=MIB] [token_life=SECONDS]
#     mem: the OSD's memstore size (default 256 MiB). memstore holds about 2 bytes of RAM per stored
#     byte: size it for what the test keeps in the store at once.
#     token_life: the lifetime of Swift tokens (default 900 s, RGW's own).
# It sets, for S3 (the names of tests/lib/s3.sh, so s3curl, s3get, s3put and s3keys work unchanged):
#   S3_ENDPOINT (http://127.0.0.1:PORT, path style), S3_PORT, S3_KEY_ID, S3_KEY, S3_SECRET (a --secret-dir);
#   RGW_VHOST_ENDPOINT (http://s3.localhost:PORT, for --addressing virtual: RGW's "rgw dns name" is
#   s3.localhost, and curl resolves every *.localhost name to the loopback itself, so BUCKET.s3.localhost
#   needs no /etc/hosts entry);
# and for Swift (the names of tests/lib/swift.sh, so swift_token, swift_curl and swift_count work):
#   SWIFT_URL, SWIFT_AUTH (v1 auth URL), SWIFT_USER, SWIFT_KEY, SWIFT_SECRET (ST_AUTH, ST_USER, ST_KEY).
# Helpers: rgw_s3_secret DIR [KEY_ID KEY], rgw_swift_secret DIR [USER KEY], rgw_mkbucket NAME,
#   rgw_uploads BUCKET [PREFIX] (the multipart uploads still open), no_open_uploads BUCKET [PREFIX],
#   stop_rgw (also done at exit by common.sh's trap: every daemon is stopped by its PID).

source "$SNAPFS_SRC/tests/lib/s3.sh"
# (swift.sh's start_swift sources this file when SWIFT_SERVER=rgw: not again from here)
[ -n "${SNAPFS_SWIFT_SH:-}" ] || source "$SNAPFS_SRC/tests/lib/swift.sh"

RGW_KEY_ID=SNAPFSTESTKEY0000001
RGW_KEY=snapfs-rgw-test-secret-key-0123456789ab
RGW_SWIFT_USER=test:swift
RGW_SWIFT_KEY=snapfs-rgw-swift-key-0123456789abcdefgh
RGW_PIDS=()

# rgw_wait SECONDS PID CMD...: CMD succeeds within SECONDS while PID (the daemon it waits on) runs
rgw_wait() {
	local secs=$1 pid=$2 i
	shift 2
	for i in $(seq $((secs * 10))); do
		"$@" >/dev/null 2>&1 && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

rgw_ceph() { timeout 20 ceph -c "$RGW_DIR/ceph.conf" --connect-timeout 15 "$@" 2>>"$RGW_DIR/cli.err"; }
rgw_osd_up() { rgw_ceph osd stat | grep -q ' 1 up'; }
rgw_answers() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$S3_ENDPOINT/")" = 200 ]; }
# rgw_logs: the tails of the cluster's logs
rgw_logs() {
	local f
	for f in "$RGW_DIR"/*.log "$RGW_DIR"/*.out "$RGW_DIR"/cli.err "$T_DIR"/rgw-*.log; do
		[ -s "$f" ] && { echo "--- tail of $f"; tail -n 15 "$f"; }
	done
	return 0
}

# rgw_fail WHAT: stop what started, show the logs, give up
rgw_fail() {
	rgw_logs >&2
	stop_rgw
	die "rgw: $1"
}

start_rgw() {
	local mem=256 token_life=900 a try bin
	for a in "$@"; do
		case $a in
		mem=*) mem=${a#mem=} ;;
		token_life=*) token_life=${a#token_life=} ;;
		*) die "start_rgw: unknown option $a" ;;
		esac
	done
	for bin in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph uuidgen; do
		command -v "$bin" >/dev/null || die "$bin is not installed (tools/deps.sh)"
	done
	[ "${#RGW_PIDS[@]}" -eq 0 ] || die "start_rgw: a cluster is already running (stop_rgw first)"
	local t0=$EPOCHREALTIME
	# A port found free can be taken before the daemon binds it (by another test on the machine): the
	# daemon then exits, and the cluster starts again on new ports. A daemon that runs but never gets
	# ready is a failure at once.
	for try in 1 2 3; do
		rgw_start_once "$mem" "$token_life" && break
		[ "$RGW_WHY" = exited ] || rgw_fail "$RGW_WHAT"
		[ "$try" -lt 3 ] || rgw_fail "$RGW_WHAT (3 attempts)"
		log "rgw: $RGW_WHAT (a port taken?); starting again on other ports"
		rgw_logs >&2
		stop_rgw
	done

	S3_KEY_ID=$RGW_KEY_ID
	S3_KEY=$RGW_KEY
	S3_DATA=
	S3_CA=
	RGW_VHOST_ENDPOINT=http://s3.localhost:$S3_PORT
	S3_SECRET=$T_DIR/rgw-s3-secret
	rgw_s3_secret "$S3_SECRET"
	SWIFT_URL=$S3_ENDPOINT
	SWIFT_AUTH=$S3_ENDPOINT/auth/1.0
	SWIFT_USER=$RGW_SWIFT_USER
	SWIFT_KEY=$RGW_SWIFT_KEY
	SWIFT_SECRET=$T_DIR/rgw-swift-secret
	rgw_swift_secret "$SWIFT_SECRET"
	swift_token 100 || rgw_fail "the Swift API gave no token"
	export S3_ENDPOINT S3_PORT S3_KEY_ID S3_KEY S3_SECRET S3_DATA S3_CA RGW_VHOST_ENDPOINT RGW_DIR
	export SWIFT_URL SWIFT_AUTH SWIFT_USER SWIFT_KEY SWIFT_SECRET
	RGW_START_SECS=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
	log "rgw up at $S3_ENDPOINT in ${RGW_START_SECS}s (memstore ${mem} MiB)"
}

# rgw_step WHAT SECONDS PID CMD...: wait for CMD; on failure sets RGW_WHAT, and RGW_WHY to "exited" when
# the daemon PID is gone (worth another try) or "timeout"
rgw_step() {
	local what=$1 secs=$2 pid=$3
	shift 3
	rgw_wait "$secs" "$pid" "$@" && return 0
	RGW_WHAT=$what
	if kill -0 "$pid" 2>/dev/null; then RGW_WHY=timeout; else RGW_WHY=exited; fi
	return 1
}

# rgw_start_once MEM_MIB TOKEN_LIFE: one attempt; on failure RGW_WHAT says what failed
rgw_start_once() {
	local mem=$1 token_life=$2 mon_port rgw_port fsid osd_uuid osd_id mon_pid osd_pid rgw_pid
	RGW_WHY=failed
	RGW_DIR=$(mktemp -d "$T_DIR/rgw.XXXX")
	[ -d "$RGW_DIR" ] || { RGW_WHAT="no cluster folder"; return 1; }
	read -r mon_port rgw_port < <(low_ports 2)
	fsid=$(uuidgen)
	mkdir -p "$RGW_DIR/crash" "$RGW_DIR/rgw"
	# Everything under RGW_DIR and on 127.0.0.1; auth none (the test's own cluster); one replica; few
	# placement groups and OSD threads (2 cores, shared). The OSD's addresses go in [osd]: in [global]
	# they would move the monitor to the default ports. radosgw's monitor session must allow crc mode
	# ("secure" alone cannot work with auth none). Deleted objects are collected after 10 s, not 2 h (they
	# sit in RAM). The OSD must not wait 5 s for a monitor that is stopped first.
	cat >"$RGW_DIR/ceph.conf" <<CONF
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$mon_port]
ms bind msgr1 = false
auth cluster required = none
auth service required = none
auth client required = none
run dir = $RGW_DIR
crash dir = $RGW_DIR/crash
log file = $RGW_DIR/\$name.log
admin socket = $RGW_DIR/\$name.asok
pid file = $RGW_DIR/\$name.pid
keyring = $RGW_DIR/keyring
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000

[mon]
mon data = $RGW_DIR/mon.\$id
paxos propose interval = 0.1

[osd]
public addr = 127.0.0.1
cluster addr = 127.0.0.1
osd data = $RGW_DIR/osd.\$id
osd objectstore = memstore
memstore device bytes = $((mem * 1024 * 1024))
osd op num shards = 2
osd op num threads per shard = 1
osd mon shutdown timeout = 0.2

[client]
ms mon client mode = crc secure
rgw data = $RGW_DIR/rgw
rgw gc obj min wait = 10
rgw gc processor period = 30
rgw dns name = s3.localhost
rgw swift token expiration = $token_life
CONF
	RGW_WHAT="monmaptool failed"
	monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" "$RGW_DIR/monmap" \
		>"$RGW_DIR/monmaptool.out" 2>&1 || return 1
	RGW_WHAT="ceph-mon --mkfs failed"
	ceph-mon -i a --mkfs --monmap "$RGW_DIR/monmap" -c "$RGW_DIR/ceph.conf" \
		>"$RGW_DIR/mon-mkfs.out" 2>&1 || return 1
	bg rgw-mon ceph-mon -i a -c "$RGW_DIR/ceph.conf" -f >/dev/null
	mon_pid=${T_PIDS[-1]}
	RGW_PIDS+=("$mon_pid")
	rgw_step "the monitor did not come up on port $mon_port" 30 "$mon_pid" rgw_ceph mon stat || return 1

	RGW_WHAT="ceph osd new failed"
	osd_uuid=$(uuidgen)
	osd_id=$(rgw_ceph osd new "$osd_uuid") || return 1
	mkdir -p "$RGW_DIR/osd.$osd_id"
	RGW_WHAT="ceph-osd --mkfs failed"
	ceph-osd -i "$osd_id" --mkfs --osd-uuid "$osd_uuid" -c "$RGW_DIR/ceph.conf" \
		>"$RGW_DIR/osd-mkfs.out" 2>&1 || return 1
	bg rgw-osd ceph-osd -i "$osd_id" -c "$RGW_DIR/ceph.conf" -f >/dev/null
	osd_pid=${T_PIDS[-1]}
	RGW_PIDS+=("$osd_pid")
	rgw_step "the OSD did not come up" 60 "$osd_pid" rgw_osd_up || return 1

	# the user (this also makes the zone and its pools) and its Swift subuser
	RGW_WHAT="radosgw-admin user create failed"
	timeout 60 radosgw-admin -c "$RGW_DIR/ceph.conf" user create --uid=test --display-name=test \
		--access-key="$RGW_KEY_ID" --secret-key="$RGW_KEY" >"$RGW_DIR/user.out" 2>&1 || return 1
	RGW_WHAT="radosgw-admin subuser create failed"
	timeout 60 radosgw-admin -c "$RGW_DIR/ceph.conf" subuser create --uid=test --subuser="$RGW_SWIFT_USER" \
		--access=full --key-type=swift --secret-key="$RGW_SWIFT_KEY" >"$RGW_DIR/subuser.out" 2>&1 || return 1

	# "endpoint=", not "port=" (that binds every address too)
	S3_PORT=$rgw_port
	S3_ENDPOINT=http://127.0.0.1:$rgw_port
	bg rgw-radosgw radosgw -n client.rgw.a -c "$RGW_DIR/ceph.conf" -f \
		--rgw-frontends "beast endpoint=127.0.0.1:$rgw_port" >/dev/null
	rgw_pid=${T_PIDS[-1]}
	RGW_PIDS+=("$rgw_pid")
	rgw_step "radosgw did not answer on port $rgw_port" 30 "$rgw_pid" rgw_answers || return 1
}

# stop_rgw: radosgw, then the OSD, then the monitor, each by its PID; waits until each has exited
stop_rgw() {
	local i p
	for ((i = ${#RGW_PIDS[@]} - 1; i >= 0; i--)); do
		p=${RGW_PIDS[i]}
		kill "$p" 2>/dev/null || continue
		for _ in $(seq 50); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	RGW_PIDS=()
}

# rgw_s3_secret DIR [KEY_ID KEY]: a --secret-dir for snapfs (the cluster's user unless told otherwise)
rgw_s3_secret() { write_s3_secret "$1" "${2:-$RGW_KEY_ID}" "${3:-$RGW_KEY}"; }

# rgw_swift_secret DIR [USER KEY]: a --secret-dir with ST_AUTH, ST_USER, ST_KEY for RGW's Swift API
rgw_swift_secret() {
	mkdir -p "$1"
	printf '%s' "$S3_ENDPOINT/auth/1.0" >"$1/ST_AUTH"
	printf '%s' "${2:-$RGW_SWIFT_USER}" >"$1/ST_USER"
	printf '%s' "${3:-$RGW_SWIFT_KEY}" >"$1/ST_KEY"
	chmod 600 "$1"/ST_*
}

# rgw_mkbucket NAME: a bucket (for Swift, the same thing as a container)
rgw_mkbucket() { s3curl PUT "$1" -o /dev/null || die "rgw: cannot create bucket $1"; }

# rgw_uploads BUCKET [PREFIX]: "KEY UPLOAD_ID" of every multipart upload still open (ListMultipartUploads,
# every page)
rgw_uploads() {
	local bucket=$1 prefix=${2:-} km="" um="" out
	while :; do
		# curl's --aws-sigv4 signs the query as given: its parameters must be in sorted order already
		out=$(s3curl GET "$bucket?${km:+key-marker=$(urlq "$km")&}prefix=$(urlq "$prefix")${um:+&upload-id-marker=$(urlq "$um")}&uploads=") ||
			return 1
		python3 -c '
import sys, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.read())
ns = {"s3": root.tag.split("}")[0].strip("{")} if root.tag.startswith("{") else {}
q = (lambda t: "s3:" + t) if ns else (lambda t: t)
for u in root.findall(q("Upload"), ns):
    print(u.findtext(q("Key"), "", ns), u.findtext(q("UploadId"), "", ns))
' <<<"$out"
		grep -q '<IsTruncated>true</IsTruncated>' <<<"$out" || break
		km=$(grep -o '<NextKeyMarker>[^<]*</NextKeyMarker>' <<<"$out" | sed 's/<[^>]*>//g')
		um=$(grep -o '<NextUploadIdMarker>[^<]*</NextUploadIdMarker>' <<<"$out" | sed 's/<[^>]*>//g')
	done
}

# no_open_uploads BUCKET [PREFIX]: no multipart upload left open (asked of the server itself; for a
# s3rver started beside, its upload folder as s3.sh checks it)
no_open_uploads() {
	local open
	if [ -n "${S3_DATA:-}" ]; then
		local d=$S3_DATA/$1/._S3rver_uploads
		[ ! -d "$d" ] || [ -z "$(ls -A "$d")" ] || { ls -l "$d" >&2; return 1; }
		return 0
	fi
	open=$(rgw_uploads "$1" "${2:-}") || { echo "ListMultipartUploads failed" >&2; return 1; }
	[ -z "$open" ] || { echo "open uploads: $open" >&2; return 1; }
}

# start_rgw_s3 [mem=MIB] [BUCKET...]: start_rgw, then the bucket "kubedb" and any others (what
# start_s3rver gives a test)
start_rgw_s3() {
	local opts=() b
	while [ $# -gt 0 ] && [[ $1 == *=* ]]; do
		opts+=("$1")
		shift
	done
	start_rgw "${opts[@]}"
	for b in kubedb "$@"; do
		rgw_mkbucket "$b"
	done
}
