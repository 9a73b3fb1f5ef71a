#!/bin/bash
# cppcheck's warnings over the daemon, the tools and the unit tests: any finding fails. A finding that is
# wrong is suppressed where it stands, with its reason (cppcheck-suppress). tests/fuzz is left out: its
# harness hands parsers a NULL connection on purpose, behind flags the whole-program check cannot follow.
source "$SNAPFS_SRC/tests/lib/common.sh"

cd "$SNAPFS_SRC" || exit 1
CPPCHECK=(cppcheck --quiet --enable=warning,portability --inline-suppr --error-exitcode=3 --std=c11 -I .)

check "cppcheck: no finding in fs, cache, backends, common, tools, tests/unit, tests/conformance" \
	"${CPPCHECK[@]}" fs cache backends common tools tests/unit tests/conformance
# the gate must be able to fail: the same command on a planted fault exits with its finding's code
finds() {
	local rc=0
	"${CPPCHECK[@]}" "$@" >"$T_DIR/planted.log" 2>&1 || rc=$?
	[ "$rc" -eq 3 ] && grep -q arrayIndexOutOfBounds "$T_DIR/planted.log"
}
cat >"$T_DIR/planted.c" <<'EOF'
int planted(void)
{
	int v[4];

	v[4] = 1;
	return v[0];
}
EOF
check "cppcheck: a planted out-of-bounds write fails the same command" \
	finds "$T_DIR/planted.c"
finish
