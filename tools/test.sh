#!/usr/bin/env bash
# The test command: install what is needed (tools/deps.sh), build from scratch twice (a normal build
# and an ASan+UBSan build), run every unit test under the sanitized build and under valgrind, then every
# integration test on real FUSE mounts against real servers on 127.0.0.1, with the sanitized daemon.
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

echo "== unit tests under valgrind (no leaks, no memory errors)"
(cd build && ctest -L valgrind --output-on-failure -j"$JOBS")

# Every integration test drives the ASan + UBSan daemon (build-asan's snapfs): a memory error or a
# leak anywhere on a real mount against a real server is a failure, not only a crash.
echo "== integration tests (real FUSE mounts, real servers; the daemon under ASan + UBSan)"
ASAN_DIR=$(mktemp -d /tmp/snapfs-asan.XXXXXX)
set +e
(cd build-asan && ASAN_OPTIONS="log_path=$ASAN_DIR/asan:detect_leaks=1" \
	UBSAN_OPTIONS="log_path=$ASAN_DIR/ubsan:print_stacktrace=1" \
	ctest -L integration ${FILTER:+-R "$FILTER"} --output-on-failure -j"$JOBS")
rc=$?
set -e
if [ -n "$(ls -A "$ASAN_DIR")" ]; then
	echo "sanitizer reports from the daemon:" >&2
	head -n 60 "$ASAN_DIR"/* >&2
	rc=1
fi
rm -rf "$ASAN_DIR"
exit "$rc"
