# Shared by the write-once tests. Source after common.sh.

# refused CMD...: CMD fails with "Operation not permitted"
refused() { ! "$@" 2>"$T_DIR/err" && grep -q 'Operation not permitted' "$T_DIR/err"; }
# log_lines LOG REGEX: how many lines of LOG match
log_lines() { grep -cE -- "$2" "$1" || true; }

# write_once_suite MNT LOG: the refusals, on a mount made with --write-once
write_once_suite() {
	local m=$1 log=$2 k=$1/kubedb/demo/pg/snap1
	mkdir -p "$k"
	head -c 3M /dev/urandom >"$T_DIR/d1"
	check "a new file is written" cp "$T_DIR/d1" "$k/dumpfile.sql"
	check "replacing it (O_TRUNC) is refused" refused bash -c "echo x >'$k/dumpfile.sql'"
	check "appending to it is refused" refused bash -c "echo x >>'$k/dumpfile.sql'"
	check "truncate(1) of it is refused" refused truncate -s 0 "$k/dumpfile.sql"
	echo other >"$T_DIR/other"
	check "a second file is written" cp "$T_DIR/other" "$k/other.sql"
	check "mv onto it is refused" refused mv -f "$k/other.sql" "$k/dumpfile.sql"
	check "it is whole" same_file "$T_DIR/d1" "$k/dumpfile.sql"
	check "one log line per refusal, saying why" eventually test "$(log_lines "$log" \
		'write-once: (open for writing|truncate|rename onto) /kubedb/demo/pg/snap1/dumpfile.sql refused: a committed object is never replaced or appended to')" = 4
	check "rm still works" rm "$k/other.sql"
	check "rm -r of a snapshot still works" rm -r "$k"
	check "the snapshot is gone" bash -c "! ls -1 '$m/kubedb/demo/pg' | grep -qx snap1"
}

# wo_race FILE_A FILE_B BYTES: the same new file through two mounts of one store: both opened (neither
# sees the other's yet), BYTES of 'A' and of 'B' written, A closed first; exit 0 when A's close succeeds
# and B's fails (the store's conditional create refused the second).
wo_race() {
	python3 - "$1" "$2" "$3" <<'PY'
import sys
a = open(sys.argv[1], "wb")
b = open(sys.argv[2], "wb")
n = int(sys.argv[3])
for _ in range(0, n, 1 << 20):
    k = min(1 << 20, n - _)
    a.write(b"A" * k)
    b.write(b"B" * k)
a.close()
try:
    b.close()
except OSError as e:
    print("the second close failed:", e, file=sys.stderr)
    sys.exit(0)
sys.exit("the second close succeeded")
PY
}

# only_a FILE: FILE holds nothing but 'A's (the first writer's bytes), and some
only_a() { [ -s "$1" ] && [ "$(tr -d A <"$1" | wc -c)" = 0 ]; }

# race_suite SRC OPTIONS...: two mounts of SRC with --write-once race for a small and a large new file
race_suite() {
	local src=$1; shift
	mount_snapfs "$src" "$T_DIR/r1" "$@" --cache-dir "$T_DIR/rc1" --meta-ttl 0 --write-once
	mount_snapfs "$src" "$T_DIR/r2" "$@" --cache-dir "$T_DIR/rc2" --meta-ttl 0 -o write_once
	check "${src%%://*}: the conditional create is in use" \
		grep -q "write-once: committed objects are never replaced; the store's conditional create" \
		"$T_DIR/snapfs-r1.log"
	mkdir -p "$T_DIR/r1/kubedb/demo/pg/race"
	check "${src%%://*}: a race for a small file: the second close fails" \
		wo_race "$T_DIR/r1/kubedb/demo/pg/race/small.sql" "$T_DIR/r2/kubedb/demo/pg/race/small.sql" 100000
	check "${src%%://*}: a race for a large file (in parts): the second close fails" \
		wo_race "$T_DIR/r1/kubedb/demo/pg/race/big.sql" "$T_DIR/r2/kubedb/demo/pg/race/big.sql" $((20 << 20))
	umount_snapfs "$T_DIR/r2"
	umount_snapfs "$T_DIR/r1"
	mount_snapfs "$src" "$T_DIR/r3" "$@" --cache-dir "$T_DIR/rc3" --meta-ttl 0
	check "${src%%://*}: the store holds the first writer's small file" only_a "$T_DIR/r3/kubedb/demo/pg/race/small.sql"
	check "${src%%://*}: the store holds the first writer's large file" only_a "$T_DIR/r3/kubedb/demo/pg/race/big.sql"
	check "${src%%://*}: ... whole" test "$(stat -c %s "$T_DIR/r3/kubedb/demo/pg/race/big.sql")" = $((20 << 20))
	umount_snapfs "$T_DIR/r3"
}
