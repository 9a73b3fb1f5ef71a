# The final commit refused through the fault proxy (tests/faults/t_*_commit_kept.sh), the same for every
# store that keeps a commit that kept failing. Use after common.sh and tests/faults/proxy.sh.
# The test sets WINDOW (--commit-retry) and REFUSE (fault proxy rules refusing the commit), mounts the
# store through the proxy with kept_mount, and defines
#   sc COMMAND ARGS...      snapctl with the store reached directly (the proxy may be refusing)
#   whole NAME              the object NAME in the store is $T_DIR/NAME byte for byte (read directly)
#   absent NAME             no object NAME in the store
#   upload_open NAME        what the upload of NAME put is still in the store (parts, blocks, segments)
#   no_upload NAME          nothing of an upload of NAME is left
SNAPCTL=$SNAPFS_BUILD/snapctl

# kept_mount SOURCE STORE_OPTIONS...: mount SOURCE at MNT with the options of every commit test; sets
# SRC, MNT, CACHE, OPTS, SP (the snapshot folder's path in the mount) and K (its key in the store)
kept_mount() {
	SRC=$1
	shift
	MNT=$T_DIR/mnt
	CACHE=$T_DIR/cache
	OPTS=("$@" --cache-dir "$CACHE" --retries 1 --timeout 10 --meta-ttl 1 --commit-retry "$WINDOW"
	      --log-level info)
	mount_snapfs "$SRC" "$MNT" "${OPTS[@]}"
	SP=/kubedb/demo/pg/snap
	K=kubedb/demo/pg/snap
	mkdir -p "$MNT$SP"
}
remount() { umount_snapfs "$MNT"; mount_snapfs "$SRC" "$MNT" "${OPTS[@]}"; }

# copy_checked SRC DST: copy with every write and close() checked; prints "close ok" or "close ERRNO"
copy_checked() {
	python3 - "$1" "$2" <<'PY'
import errno, os, sys
src = open(sys.argv[1], "rb").read()
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
for i in range(0, len(src), 1 << 20):
    os.write(fd, src[i:i + (1 << 20)])
try:
    os.close(fd)
    print("close ok")
except OSError as e:
    print("close " + errno.errorcode[e.errno])
PY
}
refused_twice() { [ "$(fp_get 'sum(r["injected"] for r in s["rules"])')" -ge 2 ]; }
# within 60 s (a loaded machine)
eventually_long() { for _ in $(seq 600); do "$@" && return 0; sleep 0.1; done; return 1; }
not_listed() { ! ls "$MNT$SP" | grep -qxE "$1"; }
kept_in_status() {
	python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
f = [x for x in d["failed_commits"] if x["path"].endswith("/" + sys.argv[2])]
assert f and "refused the commit" in f[0]["reason"], d["failed_commits"]' "$MNT/.snapfs/status" "$1"
}
# refused_file NAME: write $T_DIR/NAME (new random bytes of SIZE, 21 MB) while the commit is refused
refused_file() {
	head -c "${2:-21000000}" /dev/urandom >"$T_DIR/$1"
	fp_rules "$REFUSE"
	copy_checked "$T_DIR/$1" "$MNT$SP/$1" >"$T_DIR/$1.out"
}

# (a) refused for a while, less than the window: close() succeeds, the object is whole
commit_retried() {
	head -c 21000000 /dev/urandom >"$T_DIR/a.bin"
	fp_rules "$REFUSE"
	copy_checked "$T_DIR/a.bin" "$MNT$SP/a.bin" >"$T_DIR/a.out" &
	local cp=$!
	check "(a) the commit is refused at least twice" eventually_long refused_twice
	fp_reset
	wait "$cp"
	check "(a) close() succeeds once the store takes the commit" grep -qx "close ok" "$T_DIR/a.out"
	check "(a) the object is whole, byte for byte" whole a.bin
	check "(a) the log says it was tried again" \
		grep -q "a.bin: completing the upload failed (.*): trying again" "$T_DIR/snapfs-mnt.log"
	check "(a) snapctl wait exits 0" "$SNAPCTL" wait "$MNT$SP/a.bin" --max-wait 30
}

# (b) refused for longer than the window: EIO, kept, shown; retried and discarded with snapctl; a file
# stored again after its commit failed is not replaced by the kept upload
commit_kept() {
	local start ms rc
	start=$(date +%s%N)
	refused_file b.bin
	ms=$(elapsed_ms "$start")
	log "(b) close() failed after ${ms} ms with --commit-retry $WINDOW: $(cat "$T_DIR/b.bin.out")"
	check "(b) close() fails with EIO" grep -qx "close EIO" "$T_DIR/b.bin.out"
	check "(b) not before the window ran out" test "$ms" -ge $((WINDOW * 1000))
	check "(b) no object in the store" absent b.bin
	rc=0; "$SNAPCTL" wait "$MNT$SP/b.bin" --max-wait 30 >"$T_DIR/wait.out" 2>&1 || rc=$?
	check "(b) snapctl wait exits 1 (got $rc)" test "$rc" -eq 1
	check "(b) and says it is kept" grep -q "kept" "$T_DIR/wait.out"
	check "(b) its upload stays in the store" upload_open b.bin
	check "(b) .snapfs/status lists it under failed_commits with the reason" kept_in_status b.bin
	check "(b) snapctl status shows it" bash -c "'$SNAPCTL' status '$MNT' | grep -q 'NOT stored, upload kept: .*b.bin'"
	check "(b) snapctl failed lists it" bash -c "'$SNAPCTL' failed '$SRC' --cache-dir '$CACHE' | grep -q 'b.bin'"
	refused_file c.bin
	check "(b) a second refused file: close() EIO" grep -qx "close EIO" "$T_DIR/c.bin.out"
	check "(b) ls shows what the store holds: neither file" eventually not_listed '(b|c)\.bin'

	fp_reset
	start=$(date +%s%N)
	check "(b) snapctl retry stores it (mount running)" sc retry "$SRC" "$SP/b.bin"
	log "(b) snapctl retry took $(elapsed_ms "$start") ms"
	check "(b) the object is whole, byte for byte" whole b.bin
	check "(b) the mount shows it" eventually bash -c "cmp -s '$T_DIR/b.bin' '$MNT$SP/b.bin'"
	check "(b) its record is gone" bash -c "! '$SNAPCTL' failed '$SRC' --cache-dir '$CACHE' | grep -q b.bin"
	check "(b) snapctl discard drops the other" sc discard "$SRC" "${SP#/}/c.bin"
	check "(b) no object" absent c.bin
	check "(b) no upload left" no_upload c.bin
	rc=0; sc retry "$SRC" "$SP/c.bin" 2>/dev/null || rc=$?
	check "(b) a second retry of a discarded file finds nothing (exit $rc)" test "$rc" -ne 0

	refused_file e.bin
	check "(b) e.bin: close() EIO, kept" grep -qx "close EIO" "$T_DIR/e.bin.out"
	fp_reset
	head -c "${E2_SIZE:-7000000}" /dev/urandom >"$T_DIR/e2.bin"
	check "(b) e.bin written again: stored" cp "$T_DIR/e2.bin" "$MNT$SP/e.bin"
	rc=0; sc retry "$SRC" "$SP/e.bin" 2>"$T_DIR/e.err" || rc=$?
	check "(b) snapctl retry refuses to bring the older data back (exit $rc)" test "$rc" -eq 1
	check "(b) and says why" grep -q "written after this commit failed" "$T_DIR/e.err"
	cp "$T_DIR/e2.bin" "$T_DIR/e.bin"
	check "(b) the newer object stays" whole e.bin
	check "(b) snapctl discard drops the kept upload" sc discard "$SRC" "$SP/e.bin"
	check "(b) no upload left" no_upload e.bin
	check "(b) and the newer object still stays" whole e.bin
}

# (c) a failed commit left by a mount that stopped survives the next mount and is stored by
# `snapctl retry` with no mount running
commit_kept_across_mounts() {
	refused_file d.bin
	check "(c) close() EIO" grep -qx "close EIO" "$T_DIR/d.bin.out"
	fp_reset
	remount
	check "(c) the next mount keeps it and says so" \
		grep -q "kept the failed commit of $SP/d.bin" "$T_DIR/snapfs-mnt.log"
	check "(c) its upload is still there" upload_open d.bin
	umount_snapfs "$MNT"
	check "(c) snapctl retry stores it with no mount running" sc retry "$SRC" --all
	check "(c) the object is whole, byte for byte" whole d.bin
	check "(c) nothing is kept any more" bash -c "'$SNAPCTL' failed --cache-dir '$CACHE' | grep -q 'no failed commit'"
}
