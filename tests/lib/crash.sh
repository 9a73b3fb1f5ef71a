# The crash-recovery test every network store shares (tests/<store>/t_crash.sh): kill -9 of the daemon
# while two dumps are uploading, one replacing a stored dump and one new, then a remount with the same
# cache dir. The remount must discard both unfinished uploads in the store (one log line each), leave
# nothing of them there, keep the old dump as it was and make no new object.
# Source after common.sh and the store's lib, and define:
#   crash_mount MNT        mount the store on MNT with the options given after it
#   crash_leftovers        print one line per thing the store holds of unfinished uploads below
#                          kubedb/demo/pg/crash/ (its multipart uploads, blocks, sessions, segments), or
#                          nothing; compared with what it held before the writers began
#   crash_get KEY FILE     download object KEY into FILE with a client of its own; fails when absent
# and optionally crash_before_remount (runs after the kill; $T_DIR/records.crash holds the records).
# then call crash_run. A test that crashes the daemon again mounts with crash_remount and finds the
# daemon with crash_pid. CRASH_PART (default 5M) is the part size.

CRASH_DIR=kubedb/demo/pg/crash

# crash_records: the crash journal's upload records
crash_records() { ls "$T_DIR"/cache/journal-*/*.up 2>/dev/null || true; }

# crash_remount MNT [options]: crash_mount with a fresh pid file; crash_pid then waits for the daemon to
# write it (it does so after the mount command has returned: an old file would name a dead daemon)
crash_remount() {
	rm -f "$T_DIR/snapfs-mnt.pid"
	crash_mount "$@"
}
crash_pid() {
	local p
	for _ in $(seq 300); do
		p=$(cat "$T_DIR/snapfs-mnt.pid" 2>/dev/null || true)
		if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
			echo "$p"
			return 0
		fi
		sleep 0.1
	done
	die "the daemon wrote no pid file"
}

crash_run() {
	local mnt=$T_DIR/mnt part=${CRASH_PART:-5M} pid w1 w2 n
	local old=$CRASH_DIR/dumpfile.sql new=$CRASH_DIR/new.sql
	crash_remount "$mnt" --cache-dir "$T_DIR/cache" --part-size "$part"
	# the old dump: several parts, so that a block store holds it as blocks it can name again
	head -c $((12 * 1024 * 1024 + 4321)) /dev/urandom >"$T_DIR/old"
	cp "$T_DIR/old" "$mnt/$old"
	check "the old dump is stored" bash -c "crash_get $old '$T_DIR/old.before' && cmp -s '$T_DIR/old' '$T_DIR/old.before'"
	crash_leftovers >"$T_DIR/leftovers.before"
	check "no unfinished upload before the writers begin" test ! -s "$T_DIR/leftovers.before"

	pid=$(crash_pid)
	# slow writers: 40 MiB each at once, then they wait while the daemon is killed
	( head -c $((40 * 1024 * 1024)) /dev/urandom; sleep 120 ) >"$mnt/$old" 2>/dev/null &
	w1=$!
	( head -c $((40 * 1024 * 1024)) /dev/urandom; sleep 120 ) >"$mnt/$new" 2>/dev/null &
	w2=$!
	T_PIDS+=("$w1" "$w2")
	# both uploads recorded and parts of both in the store
	for _ in $(seq 600); do
		n=$(crash_records | wc -l)
		[ "$n" -ge 2 ] && [ "$(crash_leftovers | wc -l)" -ge 2 ] && break
		sleep 0.1
	done
	check "both uploads are in the crash journal" test "$(crash_records | wc -l)" -eq 2
	crash_leftovers >"$T_DIR/leftovers.crash"
	check "parts of both uploads are in the store before the crash" test "$(wc -l <"$T_DIR/leftovers.crash")" -ge 2
	kill -9 "$pid"
	kill "$w1" "$w2" 2>/dev/null || true
	wait "$w1" "$w2" 2>/dev/null || true
	fusermount3 -u "$mnt" 2>/dev/null || umount -l "$mnt"
	check "the unfinished uploads are still in the store after the crash" test -n "$(crash_leftovers)"
	check "no partial object after the crash" bash -c "! crash_get $new '$T_DIR/new.after'"
	# the records as the crash left them (key, then the store's token), for store-specific checks
	cat $(crash_records) >"$T_DIR/records.crash"
	if declare -F crash_before_remount >/dev/null; then crash_before_remount; fi

	local left t0
	left=$(crash_leftovers | tr '\n' ';')
	t0=$EPOCHREALTIME
	crash_remount "$mnt" --cache-dir "$T_DIR/cache" --part-size "$part"
	log "left by the crash: $left the remount that discarded it took" \
		"$(echo "($EPOCHREALTIME - $t0) * 1000 / 1" | bc) ms"
	check "the remount says it discarded the replacing upload" \
		grep -q "recovered: discarded the unfinished upload of $old (left by a crash)" "$T_DIR/snapfs-mnt.log"
	check "... and the new one" \
		grep -q "recovered: discarded the unfinished upload of $new (left by a crash)" "$T_DIR/snapfs-mnt.log"
	check "the crash journal is empty" test -z "$(crash_records)"
	crash_leftovers >"$T_DIR/leftovers.after"
	check "nothing of the crashed uploads is left in the store" test ! -s "$T_DIR/leftovers.after"
	check "the old dump is untouched" bash -c "crash_get $old '$T_DIR/old.after' && cmp -s '$T_DIR/old' '$T_DIR/old.after'"
	check "no new object appeared" bash -c "! crash_get $new '$T_DIR/new.after'"
	check "the mount shows the old dump" cmp -s "$T_DIR/old" "$mnt/$old"
	check "the mount shows no new dump" test ! -e "$mnt/$new"
	head -c $((11 * 1024 * 1024)) /dev/urandom >"$T_DIR/again"
	cp "$T_DIR/again" "$mnt/$new"
	check "the mount works again" bash -c "crash_get $new '$T_DIR/again.got' && cmp -s '$T_DIR/again' '$T_DIR/again.got'"
	umount_snapfs "$mnt"
	check "nothing is left after a clean upload either" test -z "$(crash_leftovers)"

	# the same records once more, as after a crash between a discard and the removal of its record:
	# nothing is left to discard, it is said so, and nothing else is touched
	awk -v d="$(ls -d "$T_DIR"/cache/journal-*)" 'NR % 2 == 1 { f = sprintf("%s/90000%d-1.up", d, NR) } { print > f }' \
		"$T_DIR/records.crash"
	check "two stale records" test "$(crash_records | wc -l)" -eq 2
	crash_remount "$mnt" --cache-dir "$T_DIR/cache" --part-size "$part"
	check "stale records: the remount says nothing was left of them" \
		test "$(grep -c "crash journal: nothing is left of the upload of $CRASH_DIR/" "$T_DIR/snapfs-mnt.log")" -eq 2
	check "stale records: the journal is empty" test -z "$(crash_records)"
	check "stale records: the old dump is untouched" bash -c "crash_get $old '$T_DIR/old.after' && cmp -s '$T_DIR/old' '$T_DIR/old.after'"
	check "stale records: the new dump is untouched" bash -c "crash_get $new '$T_DIR/again.got' && cmp -s '$T_DIR/again' '$T_DIR/again.got'"
	umount_snapfs "$mnt"
	if [ -s "$T_DIR/leftovers.after" ]; then
		log "left in the store:"
		cat "$T_DIR/leftovers.after" >&2
	fi
}
