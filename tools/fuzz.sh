#!/bin/bash
# Fuzz the reply parsers: configure build-fuzz with clang and -DSNAPFS_FUZZ=ON, build the libFuzzer targets
# of tests/fuzz, and run each for FUZZ_SECONDS (default 20) starting from its seed corpus in
# tests/fuzz/corpus/<target>. New inputs go to build-fuzz/fuzz-corpus (the seeds in the tree are not
# touched); a crash, leak, sanitizer report or timeout is kept in build-fuzz/fuzz-artifacts and fails the
# run. Prints the executions per target.
#   tools/fuzz.sh [TARGET...]     env: FUZZ_SECONDS, FUZZ_BUILD (build dir)
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${FUZZ_BUILD:-$SRC/build-fuzz}
SECS=${FUZZ_SECONDS:-20}
ALL=(fuzz_xml fuzz_s3 fuzz_azure fuzz_gcs fuzz_swift)
TARGETS=("$@")
[ $# -gt 0 ] || TARGETS=("${ALL[@]}")

command -v clang >/dev/null || { echo "fuzz: clang is not installed (apt-get install clang)" >&2; exit 1; }
mkdir -p "$BUILD"
if ! CC=clang cmake -S "$SRC" -B "$BUILD" -DSNAPFS_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	>"$BUILD/fuzz-configure.log" 2>&1; then
	cat "$BUILD/fuzz-configure.log" >&2
	echo "fuzz: configure failed" >&2
	exit 1
fi
if ! cmake --build "$BUILD" --target "${TARGETS[@]}" -j2 >"$BUILD/fuzz-build.log" 2>&1; then
	grep -E "error|undefined" "$BUILD/fuzz-build.log" | head -n 40 >&2
	echo "fuzz: build failed (log: $BUILD/fuzz-build.log)" >&2
	exit 1
fi

fails=0 total=0
for t in "${TARGETS[@]}"; do
	bin=$BUILD/tests/fuzz/$t
	seeds=$SRC/tests/fuzz/corpus/$t
	work=$BUILD/fuzz-corpus/$t
	art=$BUILD/fuzz-artifacts/$t
	log=$BUILD/fuzz-$t.log
	[ -x "$bin" ] || { echo "fuzz: $bin was not built" >&2; fails=$((fails + 1)); continue; }
	[ -d "$seeds" ] && [ -n "$(ls -A "$seeds")" ] || { echo "fuzz: no seed corpus in $seeds" >&2; fails=$((fails + 1)); continue; }
	mkdir -p "$work" "$art"
	rc=0
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
		"$bin" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1 \
		-artifact_prefix="$art/" "$work" "$seeds" >"$log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	execs=${execs:-0}
	total=$((total + execs))
	ncorp=$(ls "$work" | wc -l)
	if [ "$rc" -ne 0 ] || grep -qE "ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:" "$log"; then
		echo "fuzz $t: FAILED after $execs executions (exit $rc); artifacts in $art, log $log"
		grep -E -A 12 "ERROR:|runtime error:" "$log" | head -n 40
		fails=$((fails + 1))
	elif [ "$execs" -lt 1000 ]; then
		echo "fuzz $t: FAILED: only $execs executions in ${SECS}s (log $log)"
		fails=$((fails + 1))
	else
		echo "fuzz $t: $execs executions in ${SECS}s, no crash (corpus $ncorp inputs)"
	fi
done
echo "fuzz: $total executions over ${#TARGETS[@]} targets, $fails failed"
[ "$fails" -eq 0 ]
