# The checks the fault tests (tests/faults/t_*_faults.sh, t_*_lost_reply.sh) share, one scenario each,
# against the mount at $SNAP with the proxy's rules set by the caller. Use after common.sh and
# tests/faults/proxy.sh.

# a part that keeps failing is given up after 5 retries with backoff (200 ms doubling, full jitter: at
# most 6.2 s of sleeps) plus at most 6 x 2 s of --timeout; far less than this
EIO_BOUND_S=45

# fault_doomed WHAT MIN: every WHAT (part, block, chunk...) fails: writing $SNAP/doomed.bin gives EIO,
# close itself says EIO, within EIO_BOUND_S, and the proxy failed MIN of them at least. Resets the rules.
fault_doomed() {
	local start ms
	start=$(date +%s%N)
	# the first error (write or close) and close's own result, as errno names
	write_doomed "$SNAP/doomed.bin" >"$T_DIR/doomed.out" 2>&1
	ms=$(elapsed_ms "$start")
	log "persistent fault: $(tr '\n' ' ' <"$T_DIR/doomed.out") after ${ms} ms; injected: $(fp_get 's["injected"]')"
	check "a persistent $1 failure gives EIO" grep -qE '^(write|close) EIO$' <(head -n 1 "$T_DIR/doomed.out")
	check "close() itself returns EIO" grep -qx 'close EIO' <(tail -n 1 "$T_DIR/doomed.out")
	check "EIO came within ${EIO_BOUND_S} s (took ${ms} ms)" test "$ms" -le $((EIO_BOUND_S * 1000))
	check "the proxy failed $2 $1 requests at least" test "$(fp_get 's["injected"].get("status", 0)')" -ge "$2"
	fp_reset
}

# fault_inj ACTION [STATUS]: how many faults of that kind the rules injected, from the stats in $STATS
fault_inj() {
	python3 -c 'import json, sys
s, a = json.loads(sys.argv[1]), sys.argv[2:]
print(sum(r["injected"] for r in s["rules"] if r["action"] == a[0] and (len(a) < 2 or r.get("status") == int(a[1]))))' \
		"$STATS" "$@"
}

# fault_read_rules MATCH ERROR S1 S2 S3 S4: rules for faulty reads: of the GETs MATCH selects (a JSON
# fragment), two answer ERROR (the fragment of an action) after S1, two are reset mid reply after S2,
# two truncated after S3, one stalled past --timeout after S4
fault_read_rules() {
	fp_rules '{"rules": [
 {'"$1"', "skip": '"$3"', "times": 2, '"$2"'},
 {'"$1"', "skip": '"$4"', "times": 2, "action": "reset_reply", "at": 0.3},
 {'"$1"', "skip": '"$5"', "times": 2, "action": "truncate", "at": 0.6},
 {'"$1"', "skip": '"$6"', "times": 1, "action": "stall", "seconds": 6}
]}'
}

# fault_survives: after a failure the mount still writes and reads.
fault_survives() {
	echo "after the storm" >"$T_DIR/small.txt"
	check "the mount still writes after the failure" cp "$T_DIR/small.txt" "$SNAP/after.txt"
	check "and reads" cmp "$T_DIR/small.txt" "$SNAP/after.txt"
}

# fault_read FILE ORIGINAL [BYTES]: read FILE (its first BYTES, else all of it) through faulty GETs:
# the right bytes, or EIO with every byte before it right; never other bytes. The rules truncated some.
fault_read() {
	local n=${3:-$(stat -c %s "$2")}
	if { if [ -n "${3:-}" ]; then head -c "$3" "$1"; else cat "$1"; fi; } >"$T_DIR/read.bin" 2>"$T_DIR/read.err"; then
		check "a read through faulty GETs returns the right bytes" cmp "$T_DIR/read.bin" <(head -c "$n" "$2")
	else
		check "a failed read through faulty GETs says EIO" grep -q "Input/output error" "$T_DIR/read.err"
		check "the bytes read before the error are right" \
			cmp -n "$(stat -c %s "$T_DIR/read.bin")" "$T_DIR/read.bin" "$2"
	fi
	log "read faults injected: $(fp_get 's["injected"]')"
	check "the proxy truncated reply bodies" test "$(fp_get 's["injected"].get("truncate", 0)')" -ge 1
}

# fault_read_done: after fault_read (and the caller's checks of the stats): rules off, $MNT2 unmounted.
fault_read_done() {
	fp_reset
	umount_snapfs "$MNT2"
	rm -f "$T_DIR/read.bin"
}

# fault_bad_listing DIR WHAT RULES: with RULES on the listings, `ls DIR` fails with EIO.
fault_bad_listing() {
	fp_rules "$3"
	check "$2 fails with EIO" \
		bash -c "! ls '$1' 2>'$T_DIR/ls.err' && grep -q 'Input/output error' '$T_DIR/ls.err'"
}

# fault_bad_listings MATCH FORMAT: listings (the requests MATCH selects, a JSON fragment) answered with
# garbage (of $MNT/kubedb/demo/mal1) or cut short (of mal2, truncated FORMAT) fail with EIO.
fault_bad_listings() {
	fault_bad_listing "$MNT/kubedb/demo/mal1" "a listing answered with garbage" \
		'[{'"$1"', "action": "mangle", "how": "garbage"}]'
	fault_bad_listing "$MNT/kubedb/demo/mal2" "a listing with truncated $2" \
		'[{'"$1"', "action": "mangle", "how": "truncate"}]'
}

# fault_listing_back N: the proxy mangled N listings at least; the faults gone, the daemon (PID) lives
# and, past --meta-ttl 1, lists mal1 again.
fault_listing_back() {
	check "the proxy mangled the listings" test "$(fp_get 's["injected_total"]')" -ge "$1"
	fp_reset
	check "the daemon is still alive after malformed replies" kill -0 "$PID"
	sleep 1.5   # past --meta-ttl
	check "the listing works again once the replies are sane" bash -c "ls '$MNT/kubedb/demo/mal1/snap' | grep -qx f1"
}

# fault_append_refused WHAT NOUN IS FOUND N: the caller's rule refuses the append's WHAT with 412: appending
# $T_DIR/tail2.bin to $SNAP/a.bin fails, the NOUN stays $T_DIR/a2.bin (IS a.bin FILE checks it), the log
# says NOT stored, and FOUND a.bin still counts N (no commit was taken as found).
fault_append_refused() {
	check "an append whose $1 is refused with 412 fails" \
		bash -c "! cat '$T_DIR/tail2.bin' >>'$SNAP/a.bin' 2>'$T_DIR/append.err'"
	check "the proxy answered 412" test "$(fp_get 's["injected"].get("status", 0)')" = 1
	check "the $2 is still the one before" "$3" a.bin "$T_DIR/a2.bin"
	check "the log says NOT stored" eventually grep -q "lost/a.bin: NOT stored" "$LOG"
	check "and no $1 was taken as found" test "$("$4" a.bin)" = "$5"
}
