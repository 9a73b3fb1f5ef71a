#!/bin/bash
# The code layout's rules, checked on the compiled objects (tools/layers.py): layers point down only
# (fs -> cache -> backends -> common), no store reaches into another's folder, no cycles between files.
source "$SNAPFS_SRC/tests/lib/common.sh"
check "layers point down, no cycles between files" python3 "$SNAPFS_SRC/tools/layers.py" "$SNAPFS_BUILD"
finish
