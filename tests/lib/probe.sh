# The write check at mount (backends/probe.c): what every store's t_probe.sh asserts. Use after common.sh.
#   probe_mount NAME SOURCE [options...]   run snapfs on $T_DIR/mnt-NAME (--log-file
#                                          $T_DIR/snapfs-mnt-NAME.log); its stderr in $T_DIR/NAME.err and
#                                          exit status in $T_DIR/NAME.rc; never fails the test itself
#   probe_ok NAME                          it mounted, and the log has the check's line
#   probe_refused NAME PATTERN             it failed: exit status not 0, exactly one line on stderr that
#                                          matches PATTERN (grep -E), the same line in the log file,
#                                          nothing mounted
#   probe_key NAME                         the probe object's key, from the log or the failure line
#   probe_ms NAME                          the check's own time in ms, from the log
#   probe_measure NAME SOURCE [options...] mount and unmount 5 times with the check and 5 with --no-probe;
#                                          logs the medians (mount command wall time, and the check's own)

# probe_mount NAME SOURCE [options...]
probe_mount() {
	local name=$1 src=$2 rc=0; shift 2
	rm -f "$T_DIR/snapfs-mnt-$name.log"
	mount_snapfs "$src" "$T_DIR/mnt-$name" "$@" 2>"$T_DIR/$name.err" || rc=$?
	echo "$rc" >"$T_DIR/$name.rc"
}

probe_ok() {
	local name=$1
	[ "$(cat "$T_DIR/$name.rc")" = 0 ] || { echo "$name: exit status $(cat "$T_DIR/$name.rc")" >&2
		cat "$T_DIR/$name.err" >&2; return 1; }
	mountpoint -q "$T_DIR/mnt-$name" || { echo "$name: not mounted" >&2; return 1; }
	eventually grep -q 'write check: .* took a chunked upload of ' "$T_DIR/snapfs-mnt-$name.log"
}

probe_refused() {
	local name=$1 pattern=$2 line
	[ "$(cat "$T_DIR/$name.rc")" != 0 ] || { echo "$name: exit status 0" >&2; return 1; }
	[ "$(wc -l <"$T_DIR/$name.err")" = 1 ] || { echo "$name: not one line on stderr:" >&2
		cat "$T_DIR/$name.err" >&2; return 1; }
	grep -Eq -- "$pattern" "$T_DIR/$name.err" || { echo "$name: no /$pattern/ in:" >&2
		cat "$T_DIR/$name.err" >&2; return 1; }
	line=$(sed 's/^snapfs: //' "$T_DIR/$name.err")
	grep -qF -- "error: $line" "$T_DIR/snapfs-mnt-$name.log" || { echo "$name: not in the log file" >&2
		return 1; }
	! mountpoint -q "$T_DIR/mnt-$name" || { echo "$name: mounted" >&2; return 1; }
}

probe_key() {
	cat "$T_DIR/$1.err" "$T_DIR/snapfs-mnt-$1.log" 2>/dev/null | grep -o '[^ ]*\.snapfs-probe-[0-9a-f]\{16\}' |
		head -n 1
}

probe_ms() {
	sed -n 's/.*write check: .* its commit and delete in \([0-9]*\) ms$/\1/p' "$T_DIR/snapfs-mnt-$1.log" |
		tail -n 1
}

# median N...: the middle one of some integers
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

probe_measure() {
	local name=$1 src=$2 i t0 with=() without=() own=(); shift 2
	for i in 1 2 3 4 5; do
		t0=$(date +%s%N)
		probe_mount "$name-m$i" "$src" "$@"
		with+=($((($(date +%s%N) - t0) / 1000000)))
		probe_ok "$name-m$i" || die "a mount with the write check failed"
		own+=("$(probe_ms "$name-m$i")")
		umount_snapfs "$T_DIR/mnt-$name-m$i"
		t0=$(date +%s%N)
		probe_mount "$name-n$i" "$src" --no-probe "$@"
		without+=($((($(date +%s%N) - t0) / 1000000)))
		[ "$(cat "$T_DIR/$name-n$i.rc")" = 0 ] || die "a mount with --no-probe failed"
		umount_snapfs "$T_DIR/mnt-$name-n$i"
	done
	log "mount time, median of 5: $(median "${with[@]}") ms with the write check," \
		"$(median "${without[@]}") ms with --no-probe; the check itself $(median "${own[@]}") ms" \
		"(each: ${own[*]})"
}
