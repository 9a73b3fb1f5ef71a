#!/bin/bash
# Where a cluster has SLO and bulk delete switched off: large objects become Dynamic Large Objects
# (X-Object-Manifest over the upload's segment prefix) and deletes go one object at a time. TempAuth
# tokens live 4 s here, so the run also renews its token before expiry (and on 401) many times. A
# mount then checks the whole-file SHA-256 on a DLO manifest, kept through a rename.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/swift.sh"

CHECK=$SNAPFS_BUILD/tests/conformance/backend_check
[ -x "$CHECK" ] || die "backend_check not built: $CHECK"

start_swift noslo nobulk token_life=4
swift_mkcontainer snap
check "conformance (DLO, per-object delete, short-lived tokens)" \
	env SNAPFS_SWIFT_PAGE=100 "$CHECK" swift://snap \
	--secret-dir "$SWIFT_SECRET" --many 150 --big-mib 12 2>"$T_DIR/check.log"
check "tokens were renewed during the run" \
	test "$(grep -c 'swift: authenticated as' "$T_DIR/check.log")" -ge 3
check "no segments left behind (DLO)" test "$(swift_count snap_segments)" = 0

# the whole-file SHA-256 is the DLO manifest's metadata too, and a rename keeps it (tokens live 4 s
# here: curl takes a fresh one each time)
MNT=$T_DIR/mnt
mount_snapfs swift://snap "$MNT" --secret-dir "$SWIFT_SECRET" --cache-dir "$T_DIR/cache" --part-size 4M
head -c 10M /dev/urandom >"$T_DIR/dlo.bin"
sum=$(sha256sum <"$T_DIR/dlo.bin" | cut -d' ' -f1)
S=$MNT/kubedb/demo/pg/dlo
mkdir -p "$S"
check "a 10 MiB file is written as a DLO" cp "$T_DIR/dlo.bin" "$S/dlo.bin"
head_of() { swift_token && swift_curl -I "/snap/kubedb/demo/pg/dlo/$1" | tr -d '\r'; }
check "it is a DLO manifest" bash -c 'grep -qi "^X-Object-Manifest: snap_segments/" <<<"$1"' _ "$(head_of dlo.bin)"
check "its SHA-256 metadata is the file's" \
	bash -c 'grep -qix "X-Object-Meta-Snapfs-Sha256: $2" <<<"$1"' _ "$(head_of dlo.bin)" "$sum"
check "rename the DLO" mv "$S/dlo.bin" "$S/moved.bin"
# asked again on a miss: the test server's short-lived tokens can make one HEAD come back 401
moved_sha() { head_of moved.bin | grep -qix "X-Object-Meta-Snapfs-Sha256: $sum"; }
check "the SHA-256 moved with it" eventually moved_sha
swift_token
swift_curl -o "$T_DIR/back.bin" "/snap/kubedb/demo/pg/dlo/moved.bin"
check "it reads back from Swift byte for byte" cmp "$T_DIR/back.bin" "$T_DIR/dlo.bin"
umount_snapfs "$MNT"
finish
