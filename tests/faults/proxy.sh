# The fault proxy (tests/lib/fault_proxy.py) for the fault and security tests. Use after common.sh.
# start_fault_proxy UPSTREAM_URL [extra args...]: sets FP_PORT, FP_URL (give it to --endpoint), FP_CTL and
# FP_JOURNAL (one line per request: METHOD TARGET STATUS, or fault:ACTION).
# fp_rules JSON: replace the rules; fp_stats: the stats JSON; fp_get FIELD...: one number from the stats
# (python expression on `s`, e.g. fp_get 's["injected"].get("status", 0)').

FAULT_PROXY=$SNAPFS_SRC/tests/lib/fault_proxy.py

start_fault_proxy() {
	local up=$1 scheme=http; shift
	FP_PORT=$(free_port)
	[[ " $* " != *" --tls-cert "* ]] || scheme=https
	FP_JOURNAL=$T_DIR/proxy-journal-$FP_PORT.txt
	bg fault-proxy /usr/bin/python3 "$FAULT_PROXY" --port "$FP_PORT" --upstream "$up" --journal "$FP_JOURNAL" \
		"$@" >/dev/null
	FP_URL=$scheme://127.0.0.1:$FP_PORT
	# the control endpoint is always reached in plain text through curl -k when TLS is on
	FP_CTL=$FP_URL/__fault
	local n
	for n in $(seq 300); do
		curl -sk -o /dev/null --max-time 2 "$FP_CTL/stats" && break
		[ "$n" -lt 300 ] || die "fault proxy did not come up on $FP_PORT"
		sleep 0.1
	done
	export FP_PORT FP_URL FP_CTL FP_JOURNAL
}

fp_rules() { curl -sfk -X PUT --data-binary "$1" "$FP_CTL/rules" >/dev/null || die "fault proxy refused rules: $1"; }
fp_reset() { curl -sfk -X POST "$FP_CTL/reset" >/dev/null; }
fp_stats() { curl -sfk "$FP_CTL/stats"; }
fp_get() { fp_stats | python3 -c 'import json, sys; s = json.load(sys.stdin); print('"$1"')'; }

# elapsed_ms START_NS: milliseconds since START_NS (from date +%s%N)
elapsed_ms() { echo $((($(date +%s%N) - $1) / 1000000)); }

# daemon_alive MNT: the daemon of MNT still runs and the mount answers
daemon_alive() {
	local tag pid
	tag=$(basename "$1")
	pid=$(cat "$T_DIR/snapfs-$tag.pid" 2>/dev/null) || return 1
	kill -0 "$pid" 2>/dev/null && mountpoint -q "$1" && ls "$1/kubedb" >/dev/null
}

# write_doomed PATH: write 64 MiB into PATH with python (every write and close checked); prints the
# first error as an errno name (or "close ok"), then close's own result
write_doomed() {
	python3 - "$1" <<'PY' || true
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
chunk = os.urandom(1 << 20)
first = None
for _ in range(64):
    try:
        os.write(fd, chunk)
    except OSError as e:
        first = "write " + errno.errorcode[e.errno]
        break
try:
    os.close(fd)
    print(first or "close ok")
    print("close ok")
except OSError as e:
    print(first or "close " + errno.errorcode[e.errno])
    print("close " + errno.errorcode[e.errno])
PY
}
