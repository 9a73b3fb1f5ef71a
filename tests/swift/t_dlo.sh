#!/bin/bash
# Large objects as Dynamic Large Objects (X-Object-Manifest over the upload's segment prefix), with
# tokens that live 4 s, so the run renews its token (before expiry, or on 401) many times. A mount then
# checks the whole-file SHA-256 on a DLO manifest, kept through a rename. On Debian's Swift, SLO and
# bulk delete are switched off (DLO, deletes one object at a time); on RGW (SWIFT_SERVER=rgw) snapfs
# makes DLOs by itself (RGW never gives an SLO's manifest back), and RGW gives no token expiry, so snapfs
# renews on 401 only. The test's own requests take a fresh token and are asked again on 401
# (swift_fresh): a 4 s token can expire between two commands on a loaded machine.
# snapfs-servers: swift rgw
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/swift.sh"

CHECK=$SNAPFS_BUILD/tests/conformance/backend_check
[ -x "$CHECK" ] || die "backend_check not built: $CHECK"

if [ "$SWIFT_SERVER" = rgw ]; then
	start_swift token_life=4
else
	start_swift noslo nobulk token_life=4
fi
# the run may be shorter than two tokens on a fast machine: --hold 5 outlives the first token before any
# request, so at least one renewal happens for certain (counting on the run's length failed once)
min_auth=2
hold=(--hold 5)
swift_token
swift_mkcontainer snap
check "conformance (DLO, per-object delete, short-lived tokens)" \
	env SNAPFS_SWIFT_PAGE=100 "$CHECK" swift://snap \
	--secret-dir "$SWIFT_SECRET" --many 150 --big-mib 12 "${hold[@]}" 2>"$T_DIR/check.log"
check "tokens were renewed during the run" \
	test "$(grep -c 'swift: authenticated as' "$T_DIR/check.log")" -ge "$min_auth"
check "no segments left behind (DLO)" test "$(swift_count snap_segments)" = 0

# the whole-file SHA-256 is the DLO manifest's metadata too, and a rename keeps it
MNT=$T_DIR/mnt
mount_snapfs swift://snap "$MNT" --secret-dir "$SWIFT_SECRET" --cache-dir "$T_DIR/cache" --part-size 4M
head -c 10M /dev/urandom >"$T_DIR/dlo.bin"
sum=$(sha256sum <"$T_DIR/dlo.bin" | cut -d' ' -f1)
S=$MNT/kubedb/demo/pg/dlo
mkdir -p "$S"
check "a 10 MiB file is written as a DLO" cp "$T_DIR/dlo.bin" "$S/dlo.bin"
head_of() { swift_fresh -I "/snap/kubedb/demo/pg/dlo/$1" | tr -d '\r'; }
check "it is a DLO manifest" bash -c 'grep -qi "^X-Object-Manifest: snap_segments/" <<<"$1"' _ "$(head_of dlo.bin)"
check "its SHA-256 metadata is the file's" \
	bash -c 'grep -qix "X-Object-Meta-Snapfs-Sha256: $2" <<<"$1"' _ "$(head_of dlo.bin)" "$sum"
check "rename the DLO" mv "$S/dlo.bin" "$S/moved.bin"
check "the SHA-256 moved with it" \
	bash -c 'grep -qix "X-Object-Meta-Snapfs-Sha256: $2" <<<"$1"' _ "$(head_of moved.bin)" "$sum"
swift_fresh -o "$T_DIR/back.bin" "/snap/kubedb/demo/pg/dlo/moved.bin"
check "it reads back from Swift byte for byte" cmp "$T_DIR/back.bin" "$T_DIR/dlo.bin"
umount_snapfs "$MNT"
finish
