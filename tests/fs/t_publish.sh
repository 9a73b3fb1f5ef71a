#!/usr/bin/env bash
# Whole or absent, never silent (file://): the regression tests of the publishing defects. A writer
# killed or failing never publishes; one writer per path; a refused write fails the file; rm and mv
# of a file being written have one outcome each; `: > f; echo x >> f` keeps the append;
# `pg_dumpall > f` exits non-zero when the store fills up.
source "$(dirname "$0")/../lib/common.sh"
source "$SNAPFS_SRC/tests/lib/writer.sh"

STORE=$T_DIR/store
mkdir -p "$STORE"
MNT=$T_DIR/mnt
mount_snapfs "file://$STORE" "$MNT" --cache-dir "$T_DIR/cache" --part-size 4M
D=$MNT/kubedb/demo/pg/snap1
S=$STORE/kubedb/demo/pg/snap1
LOG=$T_DIR/snapfs-mnt.log
holds() { [ -f "$S/$1" ] && [ "$(cat "$S/$1")" = "$2" ]; }
absent() { [ ! -e "$S/$1" ] && [ ! -e "$D/$1" ]; }
size_is() { [ "$(stat -c %s "$S/$1" 2>/dev/null)" = "$2" ]; }

# --- 1. a writer killed by a signal, or exiting with a failure, publishes nothing
w_dying_writers "$D" "$LOG"

# --- 2. a refused write (below what was uploaded) fails the file: no object at any release
echo "old" >"$D/einval.bin"
w_start ev "$D/einval.bin" trunc
w_do ev write $((24 << 20))
w_do ev fsync
w_do ev pwrite 0 600
check "rewrite below the uploaded frontier: EINVAL" test "$W_ANS" = "err EINVAL"
w_do ev write 10
check "the next write: EIO (sticky)" test "$W_ANS" = "err EIO"
w_do ev close
check "close after a refused write: EIO" test "$W_ANS" = "err EIO"
w_exit ev 0
check "refused write: the previous version stays" eventually holds einval.bin old
check "refused write: the mount shows the stored size, not the failed attempt's" eventually test "$(stat -c %s "$D/einval.bin")" = 4

# --- 3. one writer per path; a reader sees what was written so far
w_start one "$D/dumpfile.sql" trunc
w_do one write 6000000
check "a reader of a file being written sees its bytes" test "$(wc -c <"$D/dumpfile.sql")" -eq 6000000
touch "$D/dumpfile.sql" 2>/dev/null || true   # its open is refused; it sets the time anyway
check "touch of a file being written publishes nothing" test ! -e "$S/dumpfile.sql"
check "a second writer: EBUSY" bash -c "! echo x >> '$D/dumpfile.sql' 2>/dev/null"
check "truncate by another process: refused" bash -c "! truncate -s 0 '$D/dumpfile.sql' 2>/dev/null"
check "a second writer is refused, also once the shell's open/dup2/close flushed it" bash -c "! sh -c 'exec 3>>\"$D/dumpfile.sql\"' 2>/dev/null"
check "the refusal is logged" grep -q "refused: /kubedb/demo/pg/snap1/dumpfile.sql is being written by pid" "$LOG"
check "nothing published while the writer writes" test ! -e "$S/dumpfile.sql"
w_do one write 1000000
w_do one close
check "the writer's close: ok" test "$W_ANS" = ok
check "the writer's file is stored whole" size_is dumpfile.sql 7000000
w_exit one 0

# a shell redirect: the shell's open, dup2 and close flush the file once before its command writes
mkfifo "$T_DIR/hold"
sh -c "exec cat '$T_DIR/hold' > '$D/redirect.sql'" &
CATP=$!
for _ in $(seq 100); do [ -e "$D/redirect.sql" ] && break; sleep 0.05; done
check "a second writer of a redirect's file: refused" bash -c "! echo x >> '$D/redirect.sql' 2>/dev/null"
echo "the data" >"$T_DIR/hold"
check "the redirect's command finishes" wait "$CATP"
check "the redirect's file holds its command's output only" eventually holds redirect.sql "the data"

# --- 4. rm of a file being written: gone at once, nothing published at its close
w_start rmw "$D/rm.bin" trunc
w_do rmw write 9000000
rm "$D/rm.bin"
check "rm of an open file: gone from the mount at once" test ! -e "$D/rm.bin"
w_do rmw write 1000
w_do rmw close
check "its writer's close: ok" test "$W_ANS" = ok
w_exit rmw 0
check "rm of an open file: never stored" eventually absent rm.bin
check "rm of an open file: still absent after the release" absent rm.bin

# --- 5. renames and open files
echo "the good dump" >"$D/new.sql"
w_start tgt "$D/target.sql" trunc
w_do tgt write 100
mv "$D/new.sql" "$D/target.sql"
w_do tgt close
w_exit tgt 0
check "mv over a target open for writing: the target holds the moved file" eventually holds target.sql "the good dump"
check "mv over an open target: its writer's data is discarded" holds target.sql "the good dump"

w_start src "$D/src.sql" trunc
w_do src write 3000000
mv "$D/src.sql" "$D/moved.sql"
check "mv of an open file: the old name is gone at once" test ! -e "$D/src.sql"
check "mv of an open file: the new name shows it" test "$(stat -c %s "$D/moved.sql")" -eq 3000000
w_do src write 7000000
w_do src close
check "mv of an open file: its close is ok" test "$W_ANS" = ok
w_exit src 0
check "mv of an open file: the commit lands under the new name" size_is moved.sql 10000000
check "mv of an open file: the old name stays absent" absent src.sql

w_start big "$MNT/kubedb/demo/pg/snapa/dumpfile.sql" trunc
w_do big write 9000000
check "mv of a snapshot with a file open for writing: refused" bash -c "! mv '$MNT/kubedb/demo/pg/snapa' '$MNT/kubedb/demo/pg/snapb' 2>/dev/null"
w_do big close
w_exit big 0
mv "$MNT/kubedb/demo/pg/snapa" "$MNT/kubedb/demo/pg/snapb"
check "after the close the snapshot moves, whole" eventually test "$(stat -c %s "$STORE/kubedb/demo/pg/snapb/dumpfile.sql" 2>/dev/null)" = 9000000
check "nothing left under the old snapshot" test ! -e "$STORE/kubedb/demo/pg/snapa/dumpfile.sql"

# --- 6. truncate then append at once: the append is never lost
lost=0
for i in $(seq 8); do
	head -c 6000 /dev/zero | tr '\0' o >"$D/log.txt"
	: >"$D/log.txt"
	echo "more $i" >>"$D/log.txt"
	eventually holds log.txt "more $i" || lost=$((lost + 1))
done
check "': > f; echo x >> f': the append is kept (8 rounds)" test "$lost" -eq 0

# --- 7. pg_dumpall > f into a store that fills up: the shell sees the failure
FULL=$T_DIR/full
mkdir -p "$FULL"
mount -t tmpfs -o size=8m tmpfs "$FULL"
T_MOUNTS+=("$FULL")
mount_snapfs "file://$FULL" "$T_DIR/mfull" --cache-dir "$T_DIR/cache2" --part-size 4M --retries 0
pg_start
pg_fill 4
w_redirect_fails "$T_DIR/mfull/kubedb/demo/pg/snap1" "$FULL/kubedb/demo/pg/snap1"
set +e
pg_dumpall -f "$T_DIR/mfull/kubedb/demo/pg/snap1/dumpfile.sql" 2>"$T_DIR/pgdumpall-f.err"
rc=$?
set -e
check "pg_dumpall -f f, store full: non-zero exit status" test "$rc" -ne 0
SNAPCTL=$SNAPFS_BUILD/snapctl
F=$T_DIR/mfull/kubedb/demo/pg/snap1
check "snapctl wait: the failed dump, exit 1" bash -c "! '$SNAPCTL' wait '$F/dumpfile.sql' 2>'$T_DIR/wait.err'"
check "snapctl wait: it says why" grep -q "NOT stored: " "$T_DIR/wait.err"
# a commit that fails where no write() can see it: the shell's redirect of a builtin exits 0
head -c 16M /dev/zero >"$FULL/filler" 2>/dev/null || true
set +e
sh -c "echo small > '$F/small.txt'"
rc=$?
set -e
check "a refused commit behind a redirect: the shell exits 0 (it never checks close)" test "$rc" -eq 0
check "snapctl wait catches it: exit 1" bash -c "! '$SNAPCTL' wait '$F/small.txt' 2>/dev/null"
check "the status document lists it as failed" grep -q '"result": "failed"' "$T_DIR/mfull/.snapfs/status"
rm -f "$FULL/filler"
echo small >"$F/small.txt"
check "snapctl wait: once stored, exit 0" "$SNAPCTL" wait "$F/small.txt" --max-wait 30

# --- 8. pg_dumpall > f interrupted: no dumpfile.sql
# a script's background job starts with SIGINT ignored: give pg_dumpall the default a terminal gives
python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])' \
	setsid sh -c "exec pg_dumpall > '$D/int.sql'" &
P=$!
for _ in $(seq 1000); do [ "$(stat -c %s "$D/int.sql" 2>/dev/null || echo 0)" -gt 1000000 ] && break; sleep 0.02; done
# stopped part way, then interrupted as Ctrl-C would (pg_dump handles SIGINT itself)
log "interrupting pg_dumpall at $(stat -c %s "$D/int.sql") bytes (pid $P, group $(ps -o pgid= "$P"))"
kill -STOP -- -"$P"
kill -INT -- -"$P"
kill -CONT -- -"$P"
set +e; wait "$P"; rc=$?; set -e
check "pg_dumpall interrupted: non-zero exit status" test "$rc" -ne 0
check "pg_dumpall interrupted: no object" eventually absent int.sql

# --- 9. --async-close: a killed writer is not uploaded in the background either
mount_snapfs "file://$STORE" "$T_DIR/masync" --cache-dir "$T_DIR/cache3" --part-size 4M --async-close
A=$T_DIR/masync/kubedb/demo/pg/snap1
w_start ak "$A/async-killed.bin" trunc
w_do ak write 3000000
w_kill ak KILL
w_start aok "$A/async-ok.bin" trunc
w_do aok write 3000000
w_do aok close
w_exit aok 0
check "--async-close: the finished file is uploaded" eventually size_is async-ok.bin 3000000
check "--async-close: the killed writer's file never is" absent async-killed.bin
check "--async-close: nothing waits in the background" eventually grep -q '"closed_waiting": 0' "$T_DIR/masync/.snapfs/status"
check "--async-close: still absent" absent async-killed.bin
finish
