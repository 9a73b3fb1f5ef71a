#!/usr/bin/env bash
# kill -9 in the middle of a dump: no partial object becomes visible, the next mount with the same
# cache dir discards the unfinished upload (from the crash journal, so only snapfs's own uploads are
# touched), and the mount works again.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/crash.sh"   # crash_pid

STORE=$T_DIR/store
mkdir -p "$STORE"
mount_snapfs "file://$STORE" "$T_DIR/mnt" --cache-dir "$T_DIR/cache" --part-size 4M
F=$T_DIR/mnt/kubedb/demo/pg/crash/dumpfile.sql
PID=$(crash_pid)

# a slow writer: 40 MiB at once, then it waits while we crash the daemon
( head -c $((40 * 1024 * 1024)) /dev/urandom; sleep 30 ) >"$F" 2>/dev/null &
WRITER=$!
T_PIDS+=("$WRITER")
for _ in $(seq 300); do
	[ -n "$(ls "$STORE/.snapfs/tmp" 2>/dev/null)" ] && break
	sleep 0.1
done
check "parts were uploading before the crash" test -n "$(ls "$STORE/.snapfs/tmp" 2>/dev/null)"
check "the upload is in the crash journal" test -n "$(ls "$T_DIR"/cache/journal-*/*.up 2>/dev/null)"
kill -9 "$PID"
kill "$WRITER" 2>/dev/null || true
wait "$WRITER" 2>/dev/null || true
fusermount3 -u "$T_DIR/mnt" 2>/dev/null || umount -l "$T_DIR/mnt"
check "no partial object after the crash" test ! -e "$STORE/kubedb/demo/pg/crash/dumpfile.sql"

rm -f "$T_DIR/snapfs-mnt.pid"   # the killed daemon's: crash_pid waits for the new one
mount_snapfs "file://$STORE" "$T_DIR/mnt" --cache-dir "$T_DIR/cache" --part-size 4M
check "the remount discarded the unfinished upload" grep -qF "recovered: discarded the unfinished upload of kubedb/demo/pg/crash/dumpfile.sql (left by a crash)" "$T_DIR/snapfs-mnt.log"
check "nothing is left in the store's temp area" test -z "$(ls "$STORE/.snapfs/tmp" 2>/dev/null)"
check "the journal is empty" test -z "$(ls "$T_DIR"/cache/journal-*/*.up 2>/dev/null)"
check "no partial object is visible through the mount" test ! -e "$F"
head -c 9M /dev/urandom >"$T_DIR/again"
cp "$T_DIR/again" "$F"
check "the mount works again" cmp -s "$T_DIR/again" "$STORE/kubedb/demo/pg/crash/dumpfile.sql"

# a second daemon on the same cache dir and mount point is refused (it would abort live uploads)
set +e
"$SNAPFS" "file://$STORE" "$T_DIR/mnt" --cache-dir "$T_DIR/cache" 2>"$T_DIR/second.err"
rc=$?
set -e
check "a second daemon on the same journal is refused" test "$rc" -ne 0
check "... saying why" grep -q "in use by another snapfs" "$T_DIR/second.err"

# SIGTERM while a file is still being written: nothing incomplete is published, the file is named in
# the log, and its upload is aborted (nothing left in the store's temp area)
( head -c $((20 * 1024 * 1024)) /dev/urandom; sleep 30 ) >"$T_DIR/mnt/kubedb/demo/pg/term/dumpfile.sql" 2>/dev/null &
WRITER=$!
T_PIDS+=("$WRITER")
for _ in $(seq 300); do
	[ -n "$(ls "$STORE/.snapfs/tmp" 2>/dev/null)" ] && break
	sleep 0.1
done
PID=$(crash_pid)
kill -TERM "$PID"
for _ in $(seq 300); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
check "SIGTERM: the daemon exits even with a writer" bash -c "! kill -0 $PID 2>/dev/null"
kill "$WRITER" 2>/dev/null || true
check "SIGTERM: the unfinished file is named in the log" grep -q "term/dumpfile.sql: NOT stored: still open for writing" "$T_DIR/snapfs-mnt.log"
check "SIGTERM: nothing incomplete was published" test ! -e "$STORE/kubedb/demo/pg/term/dumpfile.sql"
check "SIGTERM: its upload was aborted" test -z "$(ls "$STORE/.snapfs/tmp" 2>/dev/null)"
fusermount3 -u "$T_DIR/mnt" 2>/dev/null || umount -l "$T_DIR/mnt" 2>/dev/null || true
finish
