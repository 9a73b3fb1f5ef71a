#!/usr/bin/env bash
# The performance benchmark (issue 6): snapfs against s3fs, rclone mount, a streaming curl and the local
# disk, all on one s3rver on 127.0.0.1, with a real pg_dumpall of a pgbench database. Run as root from a
# clone; it installs what is missing (tools/deps.sh), builds snapfs into build-bench if needed, and
# undoes every mount and server on exit.
#
#   bash tools/bench.sh [--scale N] [--runs N] [--big-gib N] [--readme]
#
# --scale   pgbench scale of the dumped database (default 40, about 390 MB of pg_dumpall)
# --runs    rounds; each round alternates the order of the tools, the table shows medians (default 3)
# --big-gib size of the generated stream that shows memory and cache do not grow (default 4; 0 skips)
# --readme  write the table into README.md's "## Performance" section
set -euo pipefail

SCALE=40 RUNS=3 BIG_GIB=4 README=0 LS_N=5000 RM_N=1000
ARGS="$*"
while [ $# -gt 0 ]; do
	case $1 in
	--scale) SCALE=$2; shift 2 ;;
	--runs) RUNS=$2; shift 2 ;;
	--big-gib) BIG_GIB=$2; shift 2 ;;
	--readme) README=1; shift ;;
	-h|--help) sed -n '2,13p' "$0"; exit 0 ;;
	*) echo "bench: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" -eq 0 ] || { echo "bench: run as root (FUSE mounts, drop_caches, a PostgreSQL cluster)" >&2; exit 1; }

SNAPFS_SRC=$(cd "$(dirname "$0")/.." && pwd)
SNAPFS_BUILD=${SNAPFS_BUILD:-$SNAPFS_SRC/build-bench}
SNAPFS=$SNAPFS_BUILD/snapfs
export SNAPFS_SRC SNAPFS_BUILD SNAPFS
cd "$SNAPFS_SRC"
if ! command -v s3fs >/dev/null || ! command -v rclone >/dev/null || ! command -v pgbench >/dev/null ||
   [ ! -x tests/servers/node_modules/.bin/s3rver ]; then
	bash tools/deps.sh
fi
if [ ! -x "$SNAPFS" ]; then
	cmake -S "$SNAPFS_SRC" -B "$SNAPFS_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build "$SNAPFS_BUILD" -j2 >/dev/null
fi

# shellcheck source=../tests/lib/common.sh
source tests/lib/common.sh
# shellcheck source=../tests/lib/s3.sh
source tests/lib/s3.sh

say() { echo "[bench $(date -u +%H:%M:%S)] $*" >&2; }
now() { date +%s.%N; }
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

# --- servers ---
say "s3rver, PostgreSQL (pgbench scale $SCALE)"
start_s3rver
pg_start pg
psql -q -c "CREATE DATABASE bench" postgres
pgbench -q -i -s "$SCALE" bench >/dev/null 2>&1
export AWS_ACCESS_KEY_ID=$S3_KEY_ID AWS_SECRET_ACCESS_KEY=$S3_KEY
B=kubedb
# folder markers, as s3fs or a console leave them: s3rver answers a delimited listing of a bucket holding
# only deeper keys with no common prefixes at all, which hides every folder from rclone
: >"$T_DIR/empty"
for k in kubedb/ kubedb/bench/ kubedb/bench/pg/; do s3put "$T_DIR/empty" "$B/$k"; done

# --- mounts: each tool can be (re)mounted fresh, so reads and listings start cold ---
M_SNAP=$T_DIR/snapfs M_S3FS=$T_DIR/s3fs M_RCLONE=$T_DIR/rclone M_FILE=$T_DIR/snapfs-file
VOL=$T_DIR/volume LOCAL=$T_DIR/local
mkdir -p "$M_SNAP" "$M_S3FS" "$M_RCLONE" "$M_FILE" "$VOL" "$LOCAL"
printf '%s:%s\n' "$S3_KEY_ID" "$S3_KEY" >"$T_DIR/s3fs.passwd"
chmod 600 "$T_DIR/s3fs.passwd"
export RCLONE_CONFIG_BENCH_TYPE=s3 RCLONE_CONFIG_BENCH_PROVIDER=Other RCLONE_CONFIG_BENCH_ENDPOINT=$S3_ENDPOINT
export RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=$S3_KEY_ID RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=$S3_KEY
export RCLONE_CONFIG_BENCH_REGION=us-east-1
S3FS_PID= RCLONE_PID=

wait_mount() {
	local m=$1 i
	for i in $(seq 300); do
		mountpoint -q "$m" && return 0
		sleep 0.1
	done
	die "$m did not mount"
}
mount_tool() {
	case $1 in
	snapfs)
		rm -rf "$T_DIR/cache-snapfs"
		mount_snapfs "s3://$B" "$M_SNAP" --secret-dir "$S3_SECRET" --endpoint "$S3_ENDPOINT" \
			--cache-dir "$T_DIR/cache-snapfs" ;;
	file)
		rm -rf "$T_DIR/cache-file"
		mount_snapfs "file://$VOL" "$M_FILE" --cache-dir "$T_DIR/cache-file" ;;
	s3fs)
		T_MOUNTS+=("$M_S3FS")
		bg s3fs s3fs "$B" "$M_S3FS" -f \
			-o "url=$S3_ENDPOINT,use_path_request_style,passwd_file=$T_DIR/s3fs.passwd" >/dev/null
		S3FS_PID=${T_PIDS[-1]}
		wait_mount "$M_S3FS" ;;
	rclone)
		# --vfs-write-back 0s: upload right at close rather than 5 s later (rclone's best case)
		rm -rf "$T_DIR/cache-rclone"
		T_MOUNTS+=("$M_RCLONE")
		bg rclone env -u AWS_CA_BUNDLE rclone mount "bench:$B" "$M_RCLONE" \
			--vfs-cache-mode writes --vfs-write-back 0s --cache-dir "$T_DIR/cache-rclone" >/dev/null
		RCLONE_PID=${T_PIDS[-1]}
		wait_mount "$M_RCLONE" ;;
	esac
}
umount_tool() {
	case $1 in
	snapfs) umount_snapfs "$M_SNAP" ;;
	file) umount_snapfs "$M_FILE" ;;
	s3fs|rclone)
		local m=$M_S3FS pid=$S3FS_PID
		[ "$1" = s3fs ] || { m=$M_RCLONE; pid=$RCLONE_PID; }
		fusermount3 -u "$m"
		for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done ;;
	esac
}
remount() { umount_tool "$1"; mount_tool "$1"; }
mnt_of() {
	case $1 in snapfs) echo "$M_SNAP" ;; s3fs) echo "$M_S3FS" ;; rclone) echo "$M_RCLONE" ;;
	file) echo "$M_FILE" ;; esac
}
for t in snapfs s3fs rclone file; do mount_tool $t; done
say "mounted snapfs (s3:// and file://), s3fs, rclone"
SNAP_TAG=snapfs
SNAP_PID() { cat "$T_DIR/snapfs-$SNAP_TAG.pid"; }

# --- results: R[measure.tool] holds the values of every round ---
declare -A R
rec() { R[$1.$2]="${R[$1.$2]:-} $3"; }
median() {
	# shellcheck disable=SC2086
	printf '%s\n' $1 | sort -g | awk '{v[NR]=$1} END {if (NR == 0) print "-"; else if (NR % 2) print v[(NR+1)/2];
		else print (v[NR/2] + v[NR/2+1]) / 2}'
}
max_of() { printf '%s\n' $1 | sort -g | tail -n 1; }
drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }

# object_size KEY: its Content-Length in s3rver, or nothing
object_size() {
	s3curl HEAD "$B/$1" -I 2>/dev/null | tr -d '\r' | awk 'tolower($1) == "content-length:" {print $2}'
}
# wait_object KEY SIZE: until the object exists in the bucket with that size
wait_object() {
	local i
	for i in $(seq 6000); do
		[ "$(object_size "$1")" = "$2" ] && return 0
		sleep 0.05
	done
	die "object $1 never reached $2 bytes"
}

# sampler DIR OUT: the largest cache use (KiB allocated) while it runs, into OUT: the files in DIR plus
# the daemon's open, unlinked spools there (tools/bench_cache.py; one process, so that sampling does not
# steal the CPU of the dump it measures, as a shell loop of du and stat did)
sampler() { python3 tools/bench_cache.py "$1" "$(SNAP_PID)" "$2.stop" >"$2"; }
sample_start() { rm -f "$T_DIR/sample" "$T_DIR/sample.stop"; sampler "$1" "$T_DIR/sample" & SAMPLER=$!; }
sample_stop() { touch "$T_DIR/sample.stop"; wait "$SAMPLER"; PEAK=$(cat "$T_DIR/sample"); }
hwm_reset() { echo 5 >"/proc/$(SNAP_PID)/clear_refs"; }
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$(SNAP_PID)/status"; }

# --- 1. the dump ---
dump_to() {  # dump_to TOOL ROUND: seconds into R[dump.TOOL]
	local tool=$1 r=$2 key="kubedb/bench/pg/$1-r$2/dumpfile.sql" t0 t1 m
	case $tool in
	snapfs|s3fs|rclone|file)
		m=$(mnt_of "$tool")
		[ "$tool" = snapfs ] || [ "$tool" = file ] || mkdir -p "$m/kubedb/bench/pg/$tool-r$r"
		if [ "$tool" = snapfs ]; then hwm_reset; sample_start "$T_DIR/cache-snapfs"; fi
		t0=$(now)
		pg_dumpall >"$m/$key"
		if [ "$tool" = rclone ]; then
			wait_object "$key" "$(stat -c %s "$m/$key")"
		fi
		t1=$(now)
		if [ "$tool" = snapfs ]; then
			sample_stop
			rec cache snapfs "$PEAK"
			rec rss snapfs "$(hwm_kib)"
			say "round $r snapfs peak RSS $(hwm_kib) KiB, peak cache $PEAK KiB"
			DUMP_KEY=$key
		fi ;;
	curl)
		t0=$(now)
		pg_dumpall | s3curl PUT "$B/$key" -T - -o /dev/null
		t1=$(now) ;;
	local)
		t0=$(now)
		pg_dumpall >"$LOCAL/dumpfile-r$r.sql"
		t1=$(now)
		rec size local "$(stat -c %s "$LOCAL/dumpfile-r$r.sql")"
		rm -f "$LOCAL/dumpfile-r$r.sql" ;;
	esac
	rec dump "$tool" "$(echo "$t1 - $t0" | bc)"
	say "round $r dump $tool: $(echo "$t1 - $t0" | bc) s"
}

# --- 2. the cold read of the dump snapfs wrote this round ---
read_from() {
	local tool=$1 r=$2 t0 t1
	case $tool in
	snapfs|s3fs|rclone)
		remount "$tool"
		drop
		t0=$(now)
		cat "$(mnt_of "$tool")/$DUMP_KEY" >/dev/null
		t1=$(now) ;;
	curl)
		drop
		t0=$(now)
		s3curl GET "$B/$DUMP_KEY" -o /dev/null
		t1=$(now) ;;
	esac
	rec read "$tool" "$(echo "$t1 - $t0" | bc)"
	say "round $r read $tool: $(echo "$t1 - $t0" | bc) s"
}

# --- 3. ls -l of LS_N objects, rm -r of RM_N (objects made straight in s3rver) ---
put_many() { python3 tools/bench_put.py "$S3_ENDPOINT" "$B" "$1" "$2" 100 8; }
ls_rm() {
	local tool=$1 r=$2 m t0 t1 n
	if [ "$tool" = curl ]; then
		t0=$(now)
		n=$(s3keys "$B" "kubedb/bench/pg/many/" | wc -l)
		t1=$(now)
		[ "$n" -eq "$LS_N" ] || die "curl listed $n of $LS_N objects"
		rec ls curl "$(echo "$t1 - $t0" | bc)"
		say "round $r list curl: ${R[ls.curl]##* } s"
		return 0
	fi
	put_many "kubedb/bench/pg/del-$tool-r$r/" "$RM_N"
	m=$(mnt_of "$tool")
	remount "$tool"
	t0=$(now)
	n=$(ls -l "$m/kubedb/bench/pg/many" | grep -c obj-)
	t1=$(now)
	[ "$n" -eq "$LS_N" ] || die "$tool listed $n of $LS_N objects"
	rec ls "$tool" "$(echo "$t1 - $t0" | bc)"
	say "round $r ls -l $tool: $(echo "$t1 - $t0" | bc) s"
	t0=$(now)
	rm -r "$m/kubedb/bench/pg/del-$tool-r$r"
	t1=$(now)
	n=$(s3keys "$B" "kubedb/bench/pg/del-$tool-r$r/" | wc -l)
	[ "$n" -eq 0 ] || die "$tool rm -r left $n objects"
	rec rm "$tool" "$(echo "$t1 - $t0" | bc)"
	say "round $r rm -r $tool: $(echo "$t1 - $t0" | bc) s"
}

say "creating $LS_N objects for the listing"
t0=$(now)
put_many "kubedb/bench/pg/many/" "$LS_N"
say "  took $(echo "$(now) - $t0" | bc) s"

# --- 4. big generated streams through snapfs: memory and cache must not grow with size. s3rver cannot
# assemble an object of several GiB (its CompleteMultipartUpload answers 500), so the big one goes through
# the file:// mount, which stages the same way; s3:// gets 1 GiB ---
big_stream() {  # big_stream TOOL GIB
	local tool=$1 gib=$2 m pidf t0 t1
	m=$(mnt_of "$tool")
	remount "$tool"
	SNAP_TAG=$(basename "$m")
	hwm_reset
	sample_start "$T_DIR/cache-$tool"
	t0=$(now)
	# openssl dies of SIGPIPE when head has enough: not a failure
	{ openssl enc -aes-128-ctr -nosalt -pass pass:snapfs-bench -pbkdf2 </dev/zero 2>/dev/null || true; } |
		head -c $((gib << 30)) >"$m/kubedb/bench/pg/big/stream.bin"
	t1=$(now)
	sample_stop
	rec cache "big-$tool" "$PEAK"
	rec rss "big-$tool" "$(hwm_kib)"
	rec dump "big-$tool" "$(echo "$t1 - $t0" | bc)"
	say "$gib GiB stream through snapfs $tool: $(echo "$t1 - $t0" | bc) s, peak RSS $(hwm_kib) KiB, peak cache $PEAK KiB"
	[ "$(stat -c %s "$m/kubedb/bench/pg/big/stream.bin")" = $((gib << 30)) ] || die "the $gib GiB stream did not land whole"
	rm -rf "$m/kubedb/bench/pg/big"
	SNAP_TAG=snapfs
}
if [ "$BIG_GIB" -gt 0 ]; then
	big_stream snapfs 1
	big_stream file "$BIG_GIB"
fi
rotate() {  # rotate N words...: the words, starting at the N-th (mod count)
	local n=$1; shift
	local a=("$@") i
	for i in $(seq 0 $((${#a[@]} - 1))); do echo "${a[$(((i + n) % ${#a[@]}))]}"; done
}
for r in $(seq 1 "$RUNS"); do
	for t in $(rotate "$r" snapfs s3fs rclone curl local file); do dump_to "$t" "$r"; done
	for t in $(rotate "$r" snapfs s3fs rclone curl); do read_from "$t" "$r"; done
	for t in $(rotate "$r" snapfs s3fs rclone curl); do ls_rm "$t" "$r"; done
	# the round's dumps are no longer needed: free s3rver's disk
	for t in snapfs s3fs rclone curl; do rm -rf "$M_SNAP/kubedb/bench/pg/$t-r$r"; done
	rm -rf "$VOL/kubedb/bench/pg/file-r$r"
done

LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

# --- the table ---
med() { median "${R[$1.$2]:-}"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b}'; }
verdict() { awk -v v="$1" -v g="$2" 'BEGIN {if (v == "-") print "-"; else print (v <= g ? "pass" : "miss")}'; }
f1() { awk -v v="$1" 'BEGIN {if (v == "-") print "-"; else printf "%.2f", v}'; }
mib() { awk -v v="$1" 'BEGIN {if (v == "") print "-"; else printf "%.1f", v / 1024}'; }

DUMP_MB=$(awk -v v="$(med size local)" 'BEGIN {printf "%.0f", v / 1e6}')
D_SNAP=$(med dump snapfs) D_S3FS=$(med dump s3fs) D_RCL=$(med dump rclone) D_CURL=$(med dump curl)
D_LOCAL=$(med dump local) D_FILE=$(med dump file)
RD_SNAP=$(med read snapfs) RD_S3FS=$(med read s3fs) RD_RCL=$(med read rclone) RD_CURL=$(med read curl)
L_SNAP=$(med ls snapfs) L_S3FS=$(med ls s3fs) L_RCL=$(med ls rclone) L_CURL=$(med ls curl)
X_SNAP=$(med rm snapfs) X_S3FS=$(med rm s3fs) X_RCL=$(med rm rclone)
RSS=$(max_of "${R[rss.snapfs]}") CACHE=$(max_of "${R[cache.snapfs]}")
CACHE_GOAL_MIB=40   # (--uploads 4 + the part being filled) x --part-size 8M

TABLE=$(cat <<EOF
| measure (median of $RUNS, seconds) | snapfs | s3fs | rclone | curl | local disk | snapfs ÷ curl | snapfs ÷ s3fs | snapfs ÷ rclone |
|---|---|---|---|---|---|---|---|---|
| \`pg_dumpall >\` mount ($DUMP_MB MB) | $(f1 "$D_SNAP") | $(f1 "$D_S3FS") | $(f1 "$D_RCL") ¹ | $(f1 "$D_CURL") ² | $(f1 "$D_LOCAL") | $(ratio "$D_SNAP" "$D_CURL") | $(ratio "$D_SNAP" "$D_S3FS") | $(ratio "$D_SNAP" "$D_RCL") |
| cold \`cat\` of the dump | $(f1 "$RD_SNAP") | $(f1 "$RD_S3FS") | $(f1 "$RD_RCL") | $(f1 "$RD_CURL") ³ | | $(ratio "$RD_SNAP" "$RD_CURL") | $(ratio "$RD_SNAP" "$RD_S3FS") | $(ratio "$RD_SNAP" "$RD_RCL") |
| \`ls -l\` of $LS_N objects (fresh mount) | $(f1 "$L_SNAP") | $(f1 "$L_S3FS") | $(f1 "$L_RCL") | $(f1 "$L_CURL") ⁴ | | $(ratio "$L_SNAP" "$L_CURL") | $(ratio "$L_SNAP" "$L_S3FS") | $(ratio "$L_SNAP" "$L_RCL") |
| \`rm -r\` of $RM_N objects | $(f1 "$X_SNAP") | $(f1 "$X_S3FS") | $(f1 "$X_RCL") |  | | | $(ratio "$X_SNAP" "$X_S3FS") | $(ratio "$X_SNAP" "$X_RCL") |
| \`pg_dumpall >\` snapfs \`file://\` vs the volume itself | $(f1 "$D_FILE") | | | | $(f1 "$D_LOCAL") | | | |

| goal | measured | result |
|---|---|---|
| dump within 1.25x of curl streaming | $(ratio "$D_SNAP" "$D_CURL")x | $(verdict "$(ratio "$D_SNAP" "$D_CURL")" 1.25) |
| dump at most half of s3fs's time | $(ratio "$D_SNAP" "$D_S3FS")x | $(verdict "$(ratio "$D_SNAP" "$D_S3FS")" 0.5) |
| read within 1.1x of curl GET | $(ratio "$RD_SNAP" "$RD_CURL")x | $(verdict "$(ratio "$RD_SNAP" "$RD_CURL")" 1.1) |
| \`ls -l\` at least 5x faster than s3fs | $(ratio "$L_S3FS" "$L_SNAP")x faster | $(verdict "$(ratio "$L_SNAP" "$L_S3FS")" 0.2) |
| \`rm -r\` at least 5x faster than s3fs | $(ratio "$X_S3FS" "$X_SNAP")x faster | $(verdict "$(ratio "$X_SNAP" "$X_S3FS")" 0.2) |
| peak RSS under 128 MiB (dump) | $(mib "$RSS") MiB | $(verdict "$(mib "$RSS")" 128) |
| peak cache use ≤ $CACHE_GOAL_MIB MiB ((uploads + 1) x part size) (dump) | $(mib "$CACHE") MiB | $(verdict "$(mib "$CACHE")" $CACHE_GOAL_MIB) |
EOF
)
if [ "$BIG_GIB" -gt 0 ]; then
	for bt in "snapfs 1 s3://" "file $BIG_GIB file://"; do
		set -- $bt
		TABLE+=$'\n'"| peak RSS under 128 MiB ($2 GiB stream, $3, $(f1 "$(med dump "big-$1")") s) | $(mib "$(med rss "big-$1")") MiB | $(verdict "$(mib "$(med rss "big-$1")")" 128) |"
		TABLE+=$'\n'"| peak cache use ≤ $CACHE_GOAL_MIB MiB ($2 GiB stream, $3) | $(mib "$(med cache "big-$1")") MiB | $(verdict "$(mib "$(med cache "big-$1")")" $CACHE_GOAL_MIB) |"
	done
fi
TABLE+=$'\n'"| \`file://\` within 1.15x of writing the volume directly | $(ratio "$D_FILE" "$D_LOCAL")x | $(verdict "$(ratio "$D_FILE" "$D_LOCAL")" 1.15) |"

NOTES=$(cat <<EOF
¹ rclone mount \`--vfs-cache-mode writes --vfs-write-back 0s\`, timed until the object is in the bucket
(its \`close()\` returns before the upload). ² \`pg_dumpall | curl --aws-sigv4 -T -\`, one streaming PUT.
³ \`curl\` GET of the same object. ⁴ the paged ListObjectsV2 alone, with curl. s3fs $(s3fs --version 2>/dev/null | grep -o -m1 'V[0-9.]*' | head -n 1), rclone $(rclone version 2>/dev/null | head -n 1 | awk '{print $2}'),
all against one s3rver on 127.0.0.1 with their default options otherwise; page cache dropped and each mount
fresh before every read and listing; the tools take turns in a different order each round.
EOF
)
MACHINE="$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'))," 
MACHINE+=" $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) RAM, load average $LOAD0 at the start, $LOAD1 at the end"
CMD="bash tools/bench.sh${ARGS:+ $ARGS}"
CMD=${CMD/ --readme/}

echo
echo "$TABLE"
echo
echo "$NOTES"
echo
echo "Machine: $MACHINE. $(date -u +%Y-%m-%d). Command: $CMD"
echo "raw:"; for k in "${!R[@]}"; do echo "  $k:${R[$k]}"; done | sort

if [ "$README" -eq 1 ]; then
	SECTION=$(printf '%s\n\n%s\n\n%s\n\n%s\n' \
		"Measured $(date -u +%Y-%m-%d) on $MACHINE, with \`$CMD\` (pgbench scale $SCALE):" \
		"$TABLE" "$NOTES" "Rerun it with \`bash tools/bench.sh --readme\` (root; it installs s3fs and rclone, starts s3rver and a throwaway PostgreSQL, and cleans up).")
	SECTION="$SECTION" python3 - README.md <<'PY'
import os, re, sys
p = sys.argv[1]
text = open(p).read()
# the measured part ends with the "Rerun it" line; the prose after it (what the figures mean) stays
m = re.search(r"^## Performance\n(.*?^Rerun it with [^\n]*\n)", text, re.S | re.M) or \
    re.search(r"^## Performance\n(.*?)(?=^## )", text, re.S | re.M)
if not m:
	sys.exit("bench: README.md has no '## Performance' section followed by another '## ' heading")
new = text[:m.start(1)] + "\n" + os.environ["SECTION"] + "\n" + text[m.end(1):]
tmp = p + ".bench-tmp"
open(tmp, "w").write(new)
os.replace(tmp, p)
PY
	say "README.md: Performance section rewritten"
fi
for t in snapfs file s3fs rclone; do umount_tool "$t"; done
finish
