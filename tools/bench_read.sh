#!/usr/bin/env bash
# The cold sequential read alone: `cat` of a large object through a fresh snapfs mount against a curl GET
# of the same object, both from one s3rver on 127.0.0.1, page cache dropped before each. Run as root from
# a built tree; it starts and stops its own server and mount.
#
#   bash tools/bench_read.sh [--mb N] [--runs N] [--compare BUILD_DIR] [-- snapfs options...]
#
# --mb       size of the random object (default 400)
# --runs     rounds; the readers take turns in a different order each round, medians are printed (default 3)
# --compare  also time the snapfs built in BUILD_DIR (another checkout's build) in the same rounds
# Options after -- go to snapfs (e.g. -- --read-ahead 16M).
set -euo pipefail

MB=400 RUNS=3 BASE=
while [ $# -gt 0 ]; do
	case $1 in
	--mb) MB=$2; shift 2 ;;
	--runs) RUNS=$2; shift 2 ;;
	--compare) BASE=$(cd "$2" && pwd)/snapfs; shift 2 ;;
	--) shift; break ;;
	-h|--help) sed -n '2,11p' "$0"; exit 0 ;;
	*) echo "bench_read: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
done
SNAP_OPTS=("$@")
[ "$(id -u)" -eq 0 ] || { echo "bench_read: run as root (FUSE mounts, drop_caches)" >&2; exit 1; }

SNAPFS_SRC=$(cd "$(dirname "$0")/.." && pwd)
SNAPFS_BUILD=${SNAPFS_BUILD:-$SNAPFS_SRC/build}
SNAPFS=$SNAPFS_BUILD/snapfs
export SNAPFS_SRC SNAPFS_BUILD SNAPFS
[ -x "$SNAPFS" ] || { echo "bench_read: build snapfs first ($SNAPFS)" >&2; exit 1; }
[ -z "$BASE" ] || [ -x "$BASE" ] || { echo "bench_read: no snapfs at $BASE" >&2; exit 1; }
cd "$SNAPFS_SRC"

# shellcheck source=../tests/lib/common.sh
source tests/lib/common.sh
# shellcheck source=../tests/lib/s3.sh
source tests/lib/s3.sh

say() { echo "[bench_read $(date -u +%H:%M:%S)] $*" >&2; }
now() { date +%s.%N; }
drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
median() {
	# shellcheck disable=SC2086
	printf '%s\n' $1 | sort -g | awk '{v[NR]=$1} END {if (NR % 2) print v[(NR+1)/2]; else print (v[NR/2] + v[NR/2+1]) / 2}'
}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
start_s3rver
B=kubedb KEY=kubedb/bench/pg/read/big.bin
say "a ${MB} MB random object"
head -c "$((MB << 20))" /dev/urandom >"$T_DIR/big.bin"
s3put "$T_DIR/big.bin" "$B/$KEY"
SUM=$(md5sum <"$T_DIR/big.bin" | cut -d' ' -f1)
rm -f "$T_DIR/big.bin"

MNT=$T_DIR/mnt
# mnt BINARY
mnt() {
	rm -rf "$T_DIR/cache"
	SNAPFS=$1 mount_snapfs "s3://$B" "$MNT" --secret-dir "$S3_SECRET" --endpoint "$S3_ENDPOINT" \
		--cache-dir "$T_DIR/cache" "${SNAP_OPTS[@]}"
}

# the bytes must be right before the time means anything
for bin in "$SNAPFS" ${BASE:+"$BASE"}; do
	mnt "$bin"
	[ "$(md5sum <"$MNT/$KEY" | cut -d' ' -f1)" = "$SUM" ] || die "$bin read other bytes than were stored"
	umount_snapfs "$MNT"
done

declare -A T=()
# run READER ROUND: one cold read, its seconds appended to T[READER]
run() {
	local t0 t1
	case $1 in
	snapfs|base)
		if [ "$1" = snapfs ]; then mnt "$SNAPFS"; else mnt "$BASE"; fi
		drop
		t0=$(now)
		cat "$MNT/$KEY" >/dev/null
		t1=$(now)
		umount_snapfs "$MNT" ;;
	curl)
		drop
		t0=$(now)
		s3curl GET "$B/$KEY" -o /dev/null
		t1=$(now) ;;
	esac
	T[$1]="${T[$1]:-} $(echo "$t1 - $t0" | bc)"
	say "round $2 $1 ${T[$1]##* } s"
}
READERS=(snapfs curl)
[ -z "$BASE" ] || READERS+=(base)
for r in $(seq "$RUNS"); do
	n=${#READERS[@]}
	for i in $(seq 0 $((n - 1))); do run "${READERS[$(((i + r) % n))]}" "$r"; done
done

MC=$(median "${T[curl]}")
echo "object ${MB} MB, ${RUNS} rounds, snapfs options: ${SNAP_OPTS[*]:-(defaults)}"
for rd in "${READERS[@]}"; do
	m=$(median "${T[$rd]}")
	printf '%-7s s:%s  median %s  ratio to curl %s\n' "$rd" "${T[$rd]}" "$m" "$(echo "scale=2; $m / $MC" | bc)"
done
[ -z "$BASE" ] || echo "base: $BASE"
echo "load average before: $LOAD0, after: $(cut -d' ' -f1-3 /proc/loadavg)"
