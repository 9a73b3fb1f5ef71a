#!/usr/bin/env bash
# --writeback-cache (file://): the kernel gathers pg_dump's 8 KiB writes in its page cache, and the
# promise still holds. A dump round-trips byte for byte; a store that fills up makes write() fail
# (pg_dumpall > f exits non-zero, nothing stored) through the attribute refresh the daemon forces;
# a killed or failing writer publishes nothing; appends and `: > f; echo x >> f` keep their bytes;
# an object another client replaced with a longer one reads whole (reads go around the page cache);
# the kernel's dirty bytes for the mount are bounded.
source "$(dirname "$0")/../lib/common.sh"
source "$SNAPFS_SRC/tests/lib/writer.sh"

STORE=$T_DIR/store
mkdir -p "$STORE"
MNT=$T_DIR/mnt
mount_snapfs "file://$STORE" "$MNT" --cache-dir "$T_DIR/cache" --part-size 4M --meta-ttl 1 --writeback-cache
D=$MNT/kubedb/demo/pg/snap1
S=$STORE/kubedb/demo/pg/snap1
LOG=$T_DIR/snapfs-mnt.log
mkdir -p "$D"
holds() { [ -f "$S/$1" ] && [ "$(cat "$S/$1")" = "$2" ]; }
absent() { [ ! -e "$S/$1" ] && [ ! -e "$D/$1" ]; }
size_is() { [ "$(stat -c %s "$S/$1" 2>/dev/null)" = "$2" ]; }

dev=$(mountpoint -d "$MNT")
check "the kernel's dirty bytes for the mount are bounded (2 parts, at least 16 MiB)" \
	test "$(cat "/sys/class/bdi/$dev/max_bytes")" -le $((17 << 20))

# --- 1. a dump through the page cache round-trips
pg_start
pg_fill 8
pg_dumpall >"$T_DIR/local.sql"
pg_dumpall >"$D/dumpfile.sql"
# (dump_clean: the \restrict lines carry a random key in each dump)
same_dump() { [ -f "$2" ] && cmp -s <(dump_clean "$1") <(dump_clean "$2"); }
check "pg_dumpall > f: the stored dump equals the local one" eventually same_dump "$T_DIR/local.sql" "$S/dumpfile.sql"
check "pg_dumpall > f: reads back through the mount byte for byte" cmp -s "$S/dumpfile.sql" "$D/dumpfile.sql"

# --- 2. a writer killed or failing publishes nothing
w_dying_writers "$D" "$LOG"

# --- 3. appends: the kernel reads the partial last page back through the writer's handle
printf 'abc' >"$D/app.txt"
echo more >>"$D/app.txt"
check "append to a 3-byte object" holds app.txt "abcmore"
head -c 5000 /dev/urandom >"$T_DIR/a5000"
cp "$T_DIR/a5000" "$D/app2.bin"
head -c 7000 /dev/urandom >"$T_DIR/a7000"
cat "$T_DIR/a7000" >>"$D/app2.bin"
cat "$T_DIR/a5000" "$T_DIR/a7000" >"$T_DIR/a12000"
check "append across a page boundary: stored whole" eventually cmp -s "$T_DIR/a12000" "$S/app2.bin"
lost=0
for i in $(seq 8); do
	echo "old old old" >"$D/ta.txt"
	: >"$D/ta.txt"; echo "x$i" >>"$D/ta.txt"
	eventually holds ta.txt "x$i" || lost=$((lost + 1))
done
check "': > f; echo x >> f': the append is kept (8 rounds)" test "$lost" -eq 0

# --- 4. another client replaces an object with a longer one: a read gets all of it
head -c 100000 /dev/urandom >"$T_DIR/short"
cp "$T_DIR/short" "$D/replaced.bin"
check "the short version reads back" cmp -s "$T_DIR/short" "$D/replaced.bin"
head -c 300000 /dev/urandom >"$T_DIR/long"
cp "$T_DIR/long" "$S/replaced.bin.tmp" && mv "$S/replaced.bin.tmp" "$S/replaced.bin"
# the mount's sizes are trusted for --meta-ttl 1: a read after that sees the new object whole, even
# though the kernel keeps the size it had for the inode
# (cmp -s would compare the sizes first, and stat keeps the old one: see the README)
check "replaced by a longer object: read whole" eventually bash -c "cat '$D/replaced.bin' | cmp -s - '$T_DIR/long'"

# --- 5. a store that fills up: write() fails, so pg_dumpall > f exits non-zero
FULL=$T_DIR/full
mkdir -p "$FULL"
mount -t tmpfs -o size=8m tmpfs "$FULL"
T_MOUNTS+=("$FULL")
mount_snapfs "file://$FULL" "$T_DIR/mfull" --cache-dir "$T_DIR/cache2" --part-size 4M --retries 0 --writeback-cache
mkdir -p "$T_DIR/mfull/kubedb/demo/pg/snap1"
w_redirect_fails "$T_DIR/mfull/kubedb/demo/pg/snap1" "$FULL/kubedb/demo/pg/snap1"
# a writer that checks each write(): the failure arrives at a write, well before its end
set +e
python3 - "$T_DIR/mfull/kubedb/demo/pg/snap1/py.bin" >"$T_DIR/py.out" 2>&1 <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
chunk = b"\0" * (1 << 20)
for i in range(80):
    try:
        os.write(fd, chunk)
    except OSError as e:
        print("write", i, e.errno)
        sys.exit(3)
print("all written")
PY
rc=$?
set -e
check "a writer of 80 MiB into 8 MiB: write() fails part way (EIO)" grep -q "^write [0-9]* 5$" "$T_DIR/py.out"
check "... and it exits non-zero" test "$rc" -eq 3
SNAPCTL=$SNAPFS_BUILD/snapctl
check "snapctl wait: the failed dump, exit 1" bash -c "! '$SNAPCTL' wait '$T_DIR/mfull/kubedb/demo/pg/snap1/dumpfile.sql' 2>/dev/null"

finish
