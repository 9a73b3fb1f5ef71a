#!/usr/bin/env bash
# The test command: install what is needed (tools/deps.sh), build from scratch twice (a normal build
# and an ASan+UBSan build), run every unit test under valgrind-checked and sanitized builds, then every
# integration test on real FUSE mounts against real servers on 127.0.0.1.
# Usage: tools/test.sh [ctest -R regex]   (a regex limits the integration tests, for development)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
JOBS=${JOBS:-2}
FILTER=${1:-}

bash tools/deps.sh

echo "== build (release, -Wall -Wextra -Werror)"
rm -rf build build-asan
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$JOBS" >/dev/null
echo "== build (ASan + UBSan)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSNAPFS_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$JOBS" >/dev/null

echo "== unit tests under ASan + UBSan"
(cd build-asan && ctest -L unit --output-on-failure -j"$JOBS")

echo "== the daemon under ASan + UBSan: the file system tests on real mounts"
ASAN_DIR=$(mktemp -d /tmp/snapfs-asan.XXXXXX)
(cd build-asan && ASAN_OPTIONS="log_path=$ASAN_DIR/asan:detect_leaks=1" \
	UBSAN_OPTIONS="log_path=$ASAN_DIR/ubsan:print_stacktrace=1" ctest -L fs --output-on-failure -j1)
if [ -n "$(ls -A "$ASAN_DIR")" ]; then
	echo "sanitizer reports from the daemon:" >&2
	head -n 60 "$ASAN_DIR"/* >&2
	exit 1
fi
rm -rf "$ASAN_DIR"

echo "== unit tests under valgrind (no leaks, no memory errors)"
(cd build && ctest -L valgrind --output-on-failure -j"$JOBS")

echo "== integration tests (real FUSE mounts, real servers)"
cd build
if [ -n "$FILTER" ]; then
	ctest -L integration -R "$FILTER" --output-on-failure -j"$JOBS"
else
	ctest -L integration --output-on-failure -j"$JOBS"
fi
