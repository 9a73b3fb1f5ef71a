#!/usr/bin/env bash
# The test command: install what is needed (tools/deps.sh), build from scratch (a normal build, an
# ASan+UBSan build, and the daemon and snapctl under ThreadSanitizer), run every unit test under the
# sanitized build and under valgrind, then every integration test on real FUSE mounts against real
# servers on 127.0.0.1 with the ASan+UBSan daemon, then the tests that drive the daemon's threads hardest
# once more with the ThreadSanitizer daemon.
# Usage: tools/test.sh [ctest -R regex]   (a regex limits the integration tests, for development)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
JOBS=${JOBS:-2}
FILTER=${1:-}

bash tools/deps.sh

echo "== build (release, -Wall -Wextra -Werror)"
rm -rf build build-asan build-tsan
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$JOBS" >/dev/null
echo "== build (ASan + UBSan)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSNAPFS_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$JOBS" >/dev/null
echo "== build (ThreadSanitizer: the daemon and snapctl)"
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSNAPFS_TSAN=ON >/dev/null
cmake --build build-tsan -j"$JOBS" --target snapfs snapctl >/dev/null

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

# Parallel reads of one handle, writers racing a rename or an rm, asynchronous closes, the delete
# queue, parts in flight, and the model's random steps: any data race or lock-order inversion that
# ThreadSanitizer sees in the daemon or snapctl fails the run.
TSAN_TESTS='^(fs/t_versions|fs/t_publish|fs/t_async|fs/t_rm|fs/t_ops|s3/t_publish|s3/t_rm|model/t_model_file)$'
if [ -z "$FILTER" ]; then
	echo "== the concurrent integration tests again, the daemon under ThreadSanitizer"
	TSAN_DIR=$(mktemp -d /tmp/snapfs-tsan.XXXXXX)
	set +e
	(cd build-tsan && TSAN_OPTIONS="log_path=$TSAN_DIR/tsan:halt_on_error=0" \
		ctest -R "$TSAN_TESTS" --output-on-failure -j"$JOBS")
	trc=$?
	set -e
	[ "$trc" -eq 0 ] || rc=1
	if [ -n "$(ls -A "$TSAN_DIR")" ]; then
		echo "ThreadSanitizer reports:" >&2
		head -n 80 "$TSAN_DIR"/* >&2
		rc=1
	fi
	rm -rf "$TSAN_DIR"
fi
exit "$rc"
