#!/usr/bin/env bash
# What writes cost without the kernel's writeback cache: the same bytes written into a file:// mount
# by a writer of 8 KiB write() calls (dd bs=8k), of 1 MiB calls (dd bs=1M) and by pg_dumpall (stdio,
# sized by st_blksize), against the same writes straight to the volume; with --compare, also through
# another build (e.g. one with the writeback cache on) in the same rounds. Run as root from a built tree.
#
#   bash tools/bench_write_sizes.sh [--mb N] [--runs N] [--scale N] [--compare BUILD_DIR]
#
# --mb       bytes written by dd, in MiB (default 256)
# --runs     rounds, writers in a different order each round; medians are printed (default 3)
# --scale    pgbench scale of the database pg_dumpall dumps (default 10, about 100 MB)
set -euo pipefail

MB=256 RUNS=3 SCALE=10 BASE=
while [ $# -gt 0 ]; do
	case $1 in
	--mb) MB=$2; shift 2 ;;
	--runs) RUNS=$2; shift 2 ;;
	--scale) SCALE=$2; shift 2 ;;
	--compare) BASE=$(cd "$2" && pwd)/snapfs; shift 2 ;;
	-h|--help) sed -n '2,12p' "$0"; exit 0 ;;
	*) echo "bench_write_sizes: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" -eq 0 ] || { echo "bench_write_sizes: run as root (FUSE mounts)" >&2; exit 1; }
SNAPFS_SRC=$(cd "$(dirname "$0")/.." && pwd)
SNAPFS_BUILD=${SNAPFS_BUILD:-$SNAPFS_SRC/build}
SNAPFS=$SNAPFS_BUILD/snapfs
export SNAPFS_SRC SNAPFS_BUILD SNAPFS
[ -x "$SNAPFS" ] || { echo "bench_write_sizes: build snapfs first ($SNAPFS)" >&2; exit 1; }
cd "$SNAPFS_SRC"
# shellcheck source=../tests/lib/common.sh
source tests/lib/common.sh

say() { echo "[bench_write_sizes $(date -u +%H:%M:%S)] $*" >&2; }
now() { date +%s.%N; }
median() {
	# shellcheck disable=SC2086
	printf '%s\n' $1 | sort -g | awk '{v[NR]=$1} END {if (NR % 2) print v[(NR+1)/2]; else print (v[NR/2] + v[NR/2+1]) / 2}'
}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
pg_start
say "pgbench scale $SCALE"
runuser -u postgres -- "$PG_BIN/pgbench" -h "$PGHOST" -p "$PGPORT" -i -q -s "$SCALE" postgres >/dev/null 2>&1
STORE=$T_DIR/store
mkdir -p "$STORE" "$T_DIR/direct"

# run TARGET_DIR WRITER: seconds for one write of WRITER into TARGET_DIR/f, published
run() {
	local dir=$1 w=$2 t0 t1
	t0=$(now)
	case $w in
	dd8k) dd if=/dev/zero of="$dir/f" bs=8k count=$((MB * 128)) status=none ;;
	dd1m) dd if=/dev/zero of="$dir/f" bs=1M count="$MB" status=none ;;
	pgdump) pg_dumpall >"$dir/f" ;;
	esac
	t1=$(now)
	rm -f "$dir/f"
	echo "$t1 - $t0" | bc
}

declare -A T
builds=(new)
[ -n "$BASE" ] && builds+=(base)
for r in $(seq "$RUNS"); do
	for b in "${builds[@]}"; do
		bin=$SNAPFS
		[ "$b" = base ] && bin=$BASE
		MNT=$T_DIR/mnt-$b-$r
		SNAPFS=$bin mount_snapfs "file://$STORE" "$MNT" --cache-dir "$T_DIR/cache"
		D=$MNT/kubedb/bench/pg/w
		for w in dd8k dd1m pgdump; do
			T[$b-$w]+=" $(run "$D" "$w")"
		done
		umount_snapfs "$MNT"
	done
	for w in dd8k dd1m pgdump; do
		T[direct-$w]+=" $(run "$T_DIR/direct" "$w")"
	done
	say "round $r done"
done
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
echo "file:// writes, ${MB} MiB by dd, pg_dumpall of pgbench scale $SCALE; median of $RUNS; load $LOAD0 -> $LOAD1"
printf '| writer | volume | snapfs |%s snapfs / volume |%s\n' "${BASE:+ compare build |}" "${BASE:+ snapfs / compare |}"
printf '|---|---|---|%s---|%s\n' "${BASE:+---|}" "${BASE:+---|}"
for w in dd8k dd1m pgdump; do
	v=$(median "${T[direct-$w]}") n=$(median "${T[new-$w]}")
	line="| $w | $v | $n |"
	if [ -n "$BASE" ]; then
		c=$(median "${T[base-$w]}")
		line+=" $c |"
	fi
	line+=" $(echo "scale=2; $n / $v" | bc) |"
	[ -n "$BASE" ] && line+=" $(echo "scale=2; $n / $c" | bc) |"
	echo "$line"
done
finish >/dev/null
