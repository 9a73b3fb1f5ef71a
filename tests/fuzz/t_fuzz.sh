#!/bin/bash
# The reply parsers under libFuzzer for a bounded time (tools/fuzz.sh: build-fuzz with clang, 20 s per
# target over the seed corpus in tests/fuzz/corpus): any crash, leak or sanitizer report fails.
source "$SNAPFS_SRC/tests/lib/common.sh"

FUZZ_BUILD=${FUZZ_BUILD:-$SNAPFS_SRC/build-fuzz}
check "tools/fuzz.sh: every parser fuzzed without a crash" \
	env FUZZ_BUILD="$FUZZ_BUILD" bash "$SNAPFS_SRC/tools/fuzz.sh" >"$T_DIR/fuzz.log" 2>&1
cat "$T_DIR/fuzz.log"
# every target must really have run (executions counted), not just built
for t in fuzz_xml fuzz_s3 fuzz_azure fuzz_gcs fuzz_swift; do
	check "$t ran" grep -qE "^fuzz $t: [0-9]+ executions" "$T_DIR/fuzz.log"
done
finish
