#!/usr/bin/env bash
# The performance benchmark (issues 6 and 17): snapfs on Ceph RGW (tests/lib/rgw.sh: a real S3 that
# verifies SigV4 and refuses a chunked PUT of unknown length) against the seed's way (pg_dumpall to a
# local file, then one PUT of the finished file), s3fs, the store's own floor (curl PUT/GET, sequential
# kept-alive PUTs) and the local disk; with a real pg_dumpall of a pgbench database, and the FUSE round
# trip alone (8 KiB writes, with the writer and the daemon on one CPU or two). Run as root from a
# clone; it installs what is missing (tools/deps.sh), builds snapfs into build-bench if needed, and
# undoes every mount and server on exit.
#
#   bash tools/bench.sh [--scale N] [--runs N] [--small N] [--many N] [--s3fs-slow-runs N] [--readme]
#
# --scale   pgbench scale of the dumped database (default 40, about 390 MB of pg_dumpall)
# --runs    rounds; each round alternates the order of the tools, the tables show medians (default 3)
# --small   files of 4 KiB in the tar -x tree (default 2000)
# --many    files listed with ls -l and removed with rm -r (default 10000)
# --s3fs-slow-runs  rounds in which s3fs does the tar -x (minutes each; default 1)
# --readme  write the table into README.md's "## Performance" section
set -euo pipefail

SCALE=40 RUNS=3 README=0 SMALL_N=2000 MANY_N=10000 S3FS_SLOW=1
ARGS="$*"
while [ $# -gt 0 ]; do
	case $1 in
	--scale) SCALE=$2; shift 2 ;;
	--runs) RUNS=$2; shift 2 ;;
	--small) SMALL_N=$2; shift 2 ;;
	--many) MANY_N=$2; shift 2 ;;
	--s3fs-slow-runs) S3FS_SLOW=$2; shift 2 ;;
	--readme) README=1; shift ;;
	-h|--help) sed -n '2,18p' "$0"; exit 0 ;;
	*) echo "bench: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" -eq 0 ] || { echo "bench: run as root (FUSE mounts, drop_caches, a PostgreSQL cluster)" >&2; exit 1; }

SNAPFS_SRC=$(cd "$(dirname "$0")/.." && pwd)
SNAPFS_BUILD=${SNAPFS_BUILD:-$SNAPFS_SRC/build-bench}
SNAPFS=$SNAPFS_BUILD/snapfs
export SNAPFS_SRC SNAPFS_BUILD SNAPFS
cd "$SNAPFS_SRC"
if ! command -v s3fs >/dev/null || ! command -v pgbench >/dev/null || ! command -v radosgw >/dev/null; then
	bash tools/deps.sh
fi
if [ ! -x "$SNAPFS" ]; then
	cmake -S "$SNAPFS_SRC" -B "$SNAPFS_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build "$SNAPFS_BUILD" -j2 >/dev/null
fi

# shellcheck source=../tests/lib/common.sh
source tests/lib/common.sh
# shellcheck source=../tests/lib/rgw.sh
source tests/lib/rgw.sh

say() { echo "[bench $(date -u +%H:%M:%S)] $*" >&2; }
now() { date +%s.%N; }
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

# --- servers: memstore keeps about 2 bytes of RAM per stored byte, and deleted data until RGW's
# garbage collection runs (30 s): a round holds three dumps and a GiB of dd at once ---
say "Ceph RGW, PostgreSQL (pgbench scale $SCALE)"
start_rgw mem="${BENCH_RGW_MIB:-8192}"
B=kubedb
rgw_mkbucket "$B"
pg_start pg
psql -q -c "CREATE DATABASE bench" postgres
pgbench -q -i -s "$SCALE" bench >/dev/null 2>&1
export AWS_ACCESS_KEY_ID=$S3_KEY_ID AWS_SECRET_ACCESS_KEY=$S3_KEY
P=kubedb/bench/pg

# --- mounts: each tool can be (re)mounted fresh, so reads and listings start cold ---
M_SNAP=$T_DIR/snapfs M_S3FS=$T_DIR/s3fs M_FILE=$T_DIR/snapfs-file
# the same two with --writeback-cache (the kernel gathers pg_dump's 8 KiB writes; README)
M_SNAPWB=$T_DIR/snapfs-wb M_FILEWB=$T_DIR/snapfs-file-wb
VOL=$T_DIR/volume LOCAL=$T_DIR/local
mkdir -p "$M_SNAP" "$M_S3FS" "$M_FILE" "$M_SNAPWB" "$M_FILEWB" "$VOL" "$LOCAL"
printf '%s:%s\n' "$S3_KEY_ID" "$S3_KEY" >"$T_DIR/s3fs.passwd"
chmod 600 "$T_DIR/s3fs.passwd"
S3FS_PID=

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
	snapwb)
		rm -rf "$T_DIR/cache-snapwb"
		mount_snapfs "s3://$B" "$M_SNAPWB" --secret-dir "$S3_SECRET" --endpoint "$S3_ENDPOINT" \
			--cache-dir "$T_DIR/cache-snapwb" --writeback-cache ;;
	filewb)
		rm -rf "$T_DIR/cache-filewb"
		mount_snapfs "file://$VOL" "$M_FILEWB" --cache-dir "$T_DIR/cache-filewb" --writeback-cache ;;
	s3fs)
		T_MOUNTS+=("$M_S3FS")
		S3FS_PID=$(bg s3fs s3fs "$B" "$M_S3FS" -f \
			-o "url=$S3_ENDPOINT,use_path_request_style,passwd_file=$T_DIR/s3fs.passwd")
		wait_mount "$M_S3FS" ;;
	esac
}
umount_tool() {
	case $1 in
	snapfs) umount_snapfs "$M_SNAP" ;;
	file) umount_snapfs "$M_FILE" ;;
	snapwb) umount_snapfs "$M_SNAPWB" ;;
	filewb) umount_snapfs "$M_FILEWB" ;;
	s3fs)
		fusermount3 -u "$M_S3FS"
		for _ in $(seq 600); do kill -0 "$S3FS_PID" 2>/dev/null || break; sleep 0.1; done ;;
	esac
}
remount() { umount_tool "$1"; mount_tool "$1"; }
mnt_of() {
	case $1 in snapfs) echo "$M_SNAP" ;; s3fs) echo "$M_S3FS" ;; file) echo "$M_FILE" ;;
	snapwb) echo "$M_SNAPWB" ;; filewb) echo "$M_FILEWB" ;; esac
}
for t in snapfs s3fs file snapwb filewb; do mount_tool $t; done
say "mounted snapfs (s3:// and file://, each also with --writeback-cache) and s3fs"
SNAP_TAG=snapfs
SNAP_PID() { cat "$T_DIR/snapfs-$SNAP_TAG.pid"; }

# --- results: R[measure.tool] holds the values of every round ---
declare -A R
declare -A RR
ROUND=0
rec() { R[$1.$2]="${R[$1.$2]:-} $3"; RR[$1.$2.$ROUND]=$3; }
median() {
	# shellcheck disable=SC2086
	printf '%s\n' $1 | sort -g | awk '{v[NR]=$1} END {if (NR == 0) print "-"; else if (NR % 2) print v[(NR+1)/2];
		else print (v[NR/2] + v[NR/2+1]) / 2}'
}
max_of() { printf '%s\n' $1 | sort -g | tail -n 1; }
drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }

# object_size KEY: its Content-Length in the store, or nothing
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

# procs_cpu_s PID...: the processes' user + system CPU so far, in seconds
procs_cpu_s() {
	local p
	for p in "$@"; do cat "/proc/$p/stat"; done |
		awk -v hz="$(getconf CLK_TCK)" '{t += $14 + $15} END {printf "%.2f", t / hz}'
}
# cpu_s: the snapfs daemon's; store_cpu_s: the store's processes' (monitor, OSD, radosgw), as on 2
# shared CPUs what the store spends per byte is time the mount cannot have
cpu_s() { procs_cpu_s "$(SNAP_PID)"; }
store_cpu_s() { procs_cpu_s "${RGW_PIDS[@]}"; }
sub() { echo "$1 - $2" | bc; }

# --- 1. the dump: snapfs, the seed's way (pg_dumpall to a local file, then one PUT of it), s3fs, the
# dump to local disk alone, and the file:// mount (against the local disk) ---
dump_to() {  # dump_to TOOL ROUND: seconds into R[dump.TOOL]
	local tool=$1 r=$2 key="$P/$1-r$2/dumpfile.sql" t0 t1 m
	case $tool in
	snapfs|s3fs|file|snapwb|filewb)
		m=$(mnt_of "$tool")
		[ "$tool" != s3fs ] || mkdir -p "$m/$P/$tool-r$r"
		if [ "$tool" = snapfs ]; then hwm_reset; sample_start "$T_DIR/cache-snapfs"; fi
		t0=$(now)
		pg_dumpall >"$m/$key"
		t1=$(now)
		if [ "$tool" = snapfs ]; then
			sample_stop
			rec cache snapfs "$PEAK"
			rec rss snapfs "$(hwm_kib)"
			say "round $r snapfs peak RSS $(hwm_kib) KiB, peak cache $PEAK KiB"
		fi ;;
	seed)
		t0=$(now)
		pg_dumpall >"$LOCAL/seed-r$r.sql"
		s3curl PUT "$B/$key" -T "$LOCAL/seed-r$r.sql" -o /dev/null
		t1=$(now)
		rm -f "$LOCAL/seed-r$r.sql" ;;
	local)
		t0=$(now)
		pg_dumpall >"$LOCAL/dumpfile-r$r.sql"
		t1=$(now)
		rec size local "$(stat -c %s "$LOCAL/dumpfile-r$r.sql")"
		rm -f "$LOCAL/dumpfile-r$r.sql" ;;
	esac
	rec dump "$tool" "$(sub "$t1" "$t0")"
	say "round $r dump $tool: $(sub "$t1" "$t0") s"
}

# --- 2. dd of a generated file (page-cached on the local disk) into the mount, against one curl PUT of
# the same file; the daemon's CPU per GiB written ---
SIZES="256 1024"
for mb in $SIZES; do
	{ openssl enc -aes-128-ctr -nosalt -pass pass:snapfs-bench -pbkdf2 </dev/zero 2>/dev/null || true; } |
		head -c $((mb << 20)) >"$LOCAL/src-$mb"
done
# --- the FUSE round trip alone: 48,000 writes of 8 KiB (what pg_dump's stdio makes of a 390 MB dump)
# into the file:// mount without the writeback cache, against the volume itself; then with the daemon
# pinned to CPU 0 and dd on CPU 0 (same CPU) or CPU 1 (the wake-up crosses CPUs) ---
RT_N=48000
rt_dd() {  # rt_dd NAME FILE [CMD...]: RT_N writes of 8 KiB into FILE (run through CMD), timed into rt.NAME
	local name=$1 f=$2 t0 t1
	shift 2
	t0=$(now); "$@" dd if=/dev/zero of="$f" bs=8k count=$RT_N status=none; t1=$(now)
	rec rt "$name" "$(sub "$t1" "$t0")"; rm -f "$f"
}
round_trips() {  # round_trips ROUND
	local r=$1 pid f="$M_FILE/$P/rt-r$1/f" all
	pid=$(cat "$T_DIR/snapfs-snapfs-file.pid")
	all="0-$(($(nproc) - 1))"
	mkdir -p "${f%/*}"
	rt_dd local "$VOL/rt-local"
	rt_dd file "$f"
	if [ "$(nproc)" -ge 2 ]; then
		taskset -a -p -c 0 "$pid" >/dev/null
		rt_dd same "$f" taskset -c 0
		rt_dd other "$f" taskset -c 1
		taskset -a -p -c "$all" "$pid" >/dev/null
	fi
	say "round $r $RT_N writes of 8 KiB: volume ${RR[rt.local.$r]} s, file:// ${RR[rt.file.$r]} s, same CPU ${RR[rt.same.$r]:-} s, other CPU ${RR[rt.other.$r]:-} s"
}

write_big() {  # write_big TOOL ROUND MIB
	local tool=$1 r=$2 mb=$3 key="$P/dd-$1-r$2/$3.bin" t0 t1 c0 s0
	cat "$LOCAL/src-$mb" >/dev/null
	s0=$(store_cpu_s)
	case $tool in
	snapfs)
		hwm_reset; sample_start "$T_DIR/cache-snapfs"
		c0=$(cpu_s)
		t0=$(now)
		dd if="$LOCAL/src-$mb" of="$M_SNAP/$key" bs=1M status=none
		t1=$(now)
		sample_stop
		rec "cpuw$mb" snapfs "$(echo "($(cpu_s) - $c0) * 1024 / $mb" | bc -l)"
		rec "cache$mb" snapfs "$PEAK"
		rec "rss$mb" snapfs "$(hwm_kib)"
		[ "$(object_size "$key")" = $((mb << 20)) ] || die "dd of $mb MiB did not land whole" ;;
	curl)
		t0=$(now)
		s3curl PUT "$B/$key" -T "$LOCAL/src-$mb" -o /dev/null
		t1=$(now) ;;
	esac
	rec "dd$mb" "$tool" "$(sub "$t1" "$t0")"
	rec "scpuw$mb" "$tool" "$(echo "($(store_cpu_s) - $s0) * 1024 / $mb" | bc -l)"
	say "round $r dd $mb MiB $tool: $(sub "$t1" "$t0") s"
}

# --- 3. the cold read of the 256 MiB snapfs wrote this round: fresh mount, dropped page cache ---
read_from() {
	local tool=$1 r=$2 key="$P/dd-snapfs-r$2/256.bin" t0 t1 c0 s0
	case $tool in
	snapfs|s3fs)
		remount "$tool"
		drop
		[ "$tool" != snapfs ] || c0=$(cpu_s)
		s0=$(store_cpu_s)
		t0=$(now)
		cat "$(mnt_of "$tool")/$key" >/dev/null
		t1=$(now)
		[ "$tool" != snapfs ] || rec cpur snapfs "$(echo "($(cpu_s) - $c0) * 4" | bc -l)" ;;
	curl)
		drop
		s0=$(store_cpu_s)
		t0=$(now)
		s3curl GET "$B/$key" -o /dev/null
		t1=$(now) ;;
	esac
	rec read "$tool" "$(sub "$t1" "$t0")"
	rec scpur "$tool" "$(echo "($(store_cpu_s) - $s0) * 4" | bc -l)"
	say "round $r read $tool: $(sub "$t1" "$t0") s"
}

# --- 4. many small files: tar -x of SMALL_N files of 4 KiB (a mongodump-like tree of folders), against
# the store's floor (as many sequential PUTs of 4 KiB from one kept-alive client) ---
mkdir -p "$T_DIR/tree"
python3 - "$T_DIR/tree" "$SMALL_N" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
	d = os.path.join(root, "db%02d" % (i % 20))
	os.makedirs(d, exist_ok=True)
	with open(os.path.join(d, "coll-%05d.bson" % i), "wb") as f:
		f.write(os.urandom(4096))
PY
tar -C "$T_DIR/tree" -cf "$LOCAL/tree.tar" .
small() {  # small TOOL ROUND
	local tool=$1 r=$2 t0 t1 m n
	case $tool in
	snapfs|s3fs)
		m=$(mnt_of "$tool")/$P/tar-$tool-r$r
		mkdir -p "$m"
		t0=$(now)
		tar -C "$m" -xf "$LOCAL/tree.tar"
		t1=$(now)
		n=$(s3keys "$B" "$P/tar-$tool-r$r/" | grep -c '\.bson$' || true)
		[ "$n" -eq "$SMALL_N" ] || die "$tool: tar -x left $n of $SMALL_N objects" ;;
	floor)
		t0=$(now)
		python3 tools/bench_put.py "$S3_ENDPOINT" "$B" "$P/floor-r$r/" "$SMALL_N" 4096 1
		t1=$(now) ;;
	esac
	rec tar "$tool" "$(sub "$t1" "$t0")"
	say "round $r tar -x $tool: $(sub "$t1" "$t0") s"
}

# --- 5. ls -l of MANY_N objects, rm -r of MANY_N (objects made straight in the store) ---
put_many() { python3 tools/bench_put.py "$S3_ENDPOINT" "$B" "$1" "$2" 100 8; }
ls_rm() {
	local tool=$1 r=$2 m t0 t1 n
	if [ "$tool" = curl ]; then
		t0=$(now)
		n=$(s3keys "$B" "$P/many/" | wc -l)
		t1=$(now)
		[ "$n" -eq "$MANY_N" ] || die "curl listed $n of $MANY_N objects"
		rec ls curl "$(sub "$t1" "$t0")"
		say "round $r list curl: ${R[ls.curl]##* } s"
		return 0
	fi
	put_many "$P/del-$tool-r$r/" "$MANY_N"
	m=$(mnt_of "$tool")
	remount "$tool"
	t0=$(now)
	n=$(ls -l "$m/$P/many" | grep -c obj-)
	t1=$(now)
	[ "$n" -eq "$MANY_N" ] || die "$tool listed $n of $MANY_N objects"
	rec ls "$tool" "$(sub "$t1" "$t0")"
	say "round $r ls -l $tool: $(sub "$t1" "$t0") s"
	t0=$(now)
	rm -r "$m/$P/del-$tool-r$r"
	t1=$(now)
	n=$(s3keys "$B" "$P/del-$tool-r$r/" | wc -l)
	[ "$n" -eq 0 ] || die "$tool rm -r left $n objects"
	rec rm "$tool" "$(sub "$t1" "$t0")"
	say "round $r rm -r $tool: $(sub "$t1" "$t0") s"
}

say "creating $MANY_N objects for the listing"
t0=$(now)
put_many "$P/many/" "$MANY_N"
say "  took $(sub "$(now)" "$t0") s"

rotate() {  # rotate N words...: the words, starting at the N-th (mod count)
	local n=$1; shift
	local a=("$@") i
	for i in $(seq 0 $((${#a[@]} - 1))); do echo "${a[$(((i + n) % ${#a[@]}))]}"; done
}
for r in $(seq 1 "$RUNS"); do
	ROUND=$r
	for t in $(rotate "$r" snapfs seed s3fs local file snapwb filewb); do dump_to "$t" "$r"; done
	round_trips "$r"
	for mb in $SIZES; do for t in $(rotate "$r" snapfs curl); do write_big "$t" "$r" "$mb"; done; done
	for t in $(rotate "$r" snapfs s3fs curl); do read_from "$t" "$r"; done
	for t in $(rotate "$r" snapfs s3fs floor); do
		[ "$t" != s3fs ] || [ "$r" -le "$S3FS_SLOW" ] || continue
		small "$t" "$r"
	done
	for t in $(rotate "$r" snapfs s3fs curl); do ls_rm "$t" "$r"; done
	# the round's objects are no longer needed: free the store's memory
	rm -rf "$M_SNAP/$P/"*-r"$r" "$VOL/$P/file-r$r" "$VOL/$P/filewb-r$r" "$VOL/$P/rt-r$r"
done

LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

# --- the tables ---
med() { median "${R[$1.$2]:-}"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b}'; }
# rr MEASURE A B: the median of the same-round ratios A / B, then the rounds' ratios in brackets
rr() {
	local i out=()
	for i in $(seq 1 "$RUNS"); do
		[ -n "${RR[$1.$2.$i]:-}" ] && [ -n "${RR[$1.$3.$i]:-}" ] || continue
		out+=("$(ratio "${RR[$1.$2.$i]}" "${RR[$1.$3.$i]}")")
	done
	[ "${#out[@]}" -gt 0 ] || { echo "-"; return; }
	echo "$(median "${out[*]}") (${out[*]})"
}
first() { echo "${1%% *}"; }
verdict() { awk -v v="$1" -v g="$2" 'BEGIN {if (v == "-") print "-"; else print (v <= g ? "pass" : "miss")}'; }
f1() { awk -v v="$1" 'BEGIN {if (v == "-") print "-"; else printf "%.2f", v}'; }
mib() { awk -v v="$1" 'BEGIN {if (v == "") print "-"; else printf "%.1f", v / 1024}'; }
us() { awk -v v="$1" -v n="$RT_N" 'BEGIN {if (v == "-") print "-"; else printf "%.0f", v * 1e6 / n}'; }
inv() { awk -v v="$1" 'BEGIN {if (v == "-" || v == 0) print "-"; else printf "%.1f", 1 / v}'; }

DUMP_MB=$(awk -v v="$(med size local)" 'BEGIN {printf "%.0f", v / 1e6}')
R_DS=$(rr dump snapfs seed) R_DF=$(rr dump snapfs s3fs) R_DL=$(rr dump snapfs local)
R_W1=$(rr dd256 snapfs curl) R_W2=$(rr dd1024 snapfs curl) R_RD=$(rr read snapfs curl) R_RF=$(rr read snapfs s3fs)
R_TF=$(rr tar snapfs floor) R_TS=$(rr tar snapfs s3fs) R_LS=$(rr ls snapfs s3fs) R_RM=$(rr rm snapfs s3fs)
R_FILE=$(rr dump file local)
R_WS=$(rr dump snapwb seed) R_WF=$(rr dump snapwb s3fs) R_WL=$(rr dump snapwb local) R_FILEWB=$(rr dump filewb local)
RSS=$(max_of "${R[rss.snapfs]} ${R[rss1024.snapfs]:-}") CACHE=$(max_of "${R[cache.snapfs]} ${R[cache1024.snapfs]:-}")
CACHE_GOAL_MIB=40   # (--uploads 4 + the part being filled) x --part-size 8M

TABLE=$(cat <<EOF
| work (median of $RUNS rounds, seconds) | snapfs | the anchor | s3fs | the dump to local disk alone | snapfs ÷ anchor, same round (rounds) | snapfs ÷ s3fs |
|---|---|---|---|---|---|---|
| \`pg_dumpall >\` the mount ($DUMP_MB MB); anchor: dump to local disk, then one PUT | $(f1 "$(med dump snapfs)") | $(f1 "$(med dump seed)") | $(f1 "$(med dump s3fs)") | $(f1 "$(med dump local)") | $R_DS | $R_DF |
| 256 MiB written with \`dd bs=1M\`; anchor: one curl PUT of the file | $(f1 "$(med dd256 snapfs)") | $(f1 "$(med dd256 curl)") | | | $R_W1 | |
| 1 GiB written with \`dd bs=1M\`; anchor: one curl PUT of the file | $(f1 "$(med dd1024 snapfs)") | $(f1 "$(med dd1024 curl)") | | | $R_W2 | |
| cold \`cat\` of 256 MiB (fresh mount, page cache dropped); anchor: one curl GET | $(f1 "$(med read snapfs)") | $(f1 "$(med read curl)") | $(f1 "$(med read s3fs)") | | $R_RD | $R_RF |
| \`tar -x\` of $SMALL_N files of 4 KiB in 20 folders; anchor: $SMALL_N sequential PUTs, one kept-alive client | $(f1 "$(med tar snapfs)") | $(f1 "$(med tar floor)") | $(f1 "$(med tar s3fs)") ¹ | | $R_TF | $R_TS |
| \`ls -l\` of $MANY_N objects (fresh mount); anchor: the paged listing with curl | $(f1 "$(med ls snapfs)") | $(f1 "$(med ls curl)") | $(f1 "$(med ls s3fs)") | | $(rr ls snapfs curl) | $R_LS |
| \`rm -r\` of $MANY_N objects (fresh mount) | $(f1 "$(med rm snapfs)") | | $(f1 "$(med rm s3fs)") | | | $R_RM |
| \`pg_dumpall >\` snapfs \`file://\`; anchor: the volume itself | $(f1 "$(med dump file)") | $(f1 "$(med dump local)") | | | $R_FILE | |
| $RT_N writes of 8 KiB (\`dd bs=8k\`) into snapfs \`file://\` (the FUSE round trips of the dump); anchor: the volume itself | $(f1 "$(med rt file)") | $(f1 "$(med rt local)") | | | $(rr rt file local) | |
| \`pg_dumpall >\` the mount with \`--writeback-cache\`; anchor: dump to local disk, then one PUT | $(f1 "$(med dump snapwb)") | $(f1 "$(med dump seed)") | $(f1 "$(med dump s3fs)") | $(f1 "$(med dump local)") | $R_WS | $R_WF |
| \`pg_dumpall >\` snapfs \`file://\` with \`--writeback-cache\`; anchor: the volume itself | $(f1 "$(med dump filewb)") | $(f1 "$(med dump local)") | | | $R_FILEWB | |

| goal | measured (same-round ratios) | result |
|---|---|---|
| dump at most 0.8x dump-then-upload | $R_DS | $(verdict "$(first "$R_DS")" 0.8) |
| dump at most 0.3x s3fs | $R_DF | $(verdict "$(first "$R_DF")" 0.3) |
| dump at most 1.1x the dump to local disk alone (moonshot) | $R_DL | $(verdict "$(first "$R_DL")" 1.1) |
| 256 MiB write at most 1.0x one curl PUT | $R_W1 | $(verdict "$(first "$R_W1")" 1.0) |
| 1 GiB write at most 1.0x one curl PUT | $R_W2 | $(verdict "$(first "$R_W2")" 1.0) |
| cold read at most 1.1x one curl GET | $R_RD | $(verdict "$(first "$R_RD")" 1.1) |
| \`tar -x\` at most 1.5x the store's floor | $R_TF | $(verdict "$(first "$R_TF")" 1.5) |
| \`tar -x\` at least 5x faster than s3fs | $(inv "$(first "$R_TS")")x faster | $(verdict "$(first "$R_TS")" 0.2) |
| \`ls -l\` at least 5x faster than s3fs | $(inv "$(first "$R_LS")")x faster | $(verdict "$(first "$R_LS")" 0.2) |
| \`rm -r\` at least 5x faster than s3fs | $(inv "$(first "$R_RM")")x faster | $(verdict "$(first "$R_RM")" 0.2) |
| \`file://\` at most 1.15x writing the volume directly | $R_FILE | $(verdict "$(first "$R_FILE")" 1.15) |
| with \`--writeback-cache\`: dump at most 0.8x dump-then-upload | $R_WS | $(verdict "$(first "$R_WS")" 0.8) |
| with \`--writeback-cache\`: dump at most 0.3x s3fs | $R_WF | $(verdict "$(first "$R_WF")" 0.3) |
| with \`--writeback-cache\`: dump at most 1.1x the dump to local disk alone (moonshot) | $R_WL | $(verdict "$(first "$R_WL")" 1.1) |
| with \`--writeback-cache\`: \`file://\` at most 1.15x writing the volume directly | $R_FILEWB | $(verdict "$(first "$R_FILEWB")" 1.15) |
| peak RSS under 128 MiB (the dump and the 1 GiB dd) | $(mib "$RSS") MiB | $(verdict "$(mib "$RSS")" 128) |
| peak cache ≤ $CACHE_GOAL_MIB MiB ((uploads + 1) x part size; the dump and the 1 GiB dd) | $(mib "$CACHE") MiB | $(verdict "$(mib "$CACHE")" $CACHE_GOAL_MIB) |
EOF
)

NOTES=$(cat <<EOF
¹ s3fs did the \`tar -x\` in $S3FS_SLOW of the $RUNS rounds (it takes minutes). One FUSE round trip (a \`write()\` of 8 KiB
into \`file://\`): $(us "$(med rt file)") µs, $(us "$(med rt same)") µs with dd and the daemon pinned to one CPU, $(us "$(med rt other)") µs pinned to two. The snapfs daemon's CPU:
$(f1 "$(med cpuw1024 snapfs)") s per GiB written (the 1 GiB dd), $(f1 "$(med cpur snapfs)") s per GiB read (the cold read). The store's CPU
(RGW, its OSD and monitor) per GiB: written by one curl PUT $(f1 "$(med scpuw1024 curl)") s, through snapfs $(f1 "$(med scpuw1024 snapfs)") s
(its multipart path, and the signed SHA-256 it checks); read by one curl GET $(f1 "$(med scpur curl)") s, through snapfs $(f1 "$(med scpur snapfs)") s.
s3fs $(s3fs --version 2>/dev/null | grep -o -m1 'V[0-9.]*' | head -n 1) with its default options; all against one
Ceph RGW ($(radosgw --version 2>/dev/null | awk '{print $3}'), one OSD on memstore) on 127.0.0.1, on the same CPUs as
PostgreSQL, pg_dumpall and the mounts; each mount fresh and the page cache dropped before every read and
listing; the tools take turns in a different order each round, and ratios are taken within a round.
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
		"$TABLE" "$NOTES" "Rerun it with \`bash tools/bench.sh --readme\` (root; it installs s3fs, starts Ceph RGW and a throwaway PostgreSQL, and cleans up).")
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
for t in snapfs file snapwb filewb s3fs; do umount_tool "$t"; done
finish
