#!/bin/bash
# Interop on Debian's Swift, and (swift/t_interop.rgw) on Ceph RGW's Swift API, where a DLO lists as 0
# bytes, an SLO with its manifest's size, the manifest GET answers with no body and If-Match on a
# manifest is refused (412). Objects written by the swift CLI (plain, a DLO, an SLO, odd names) and
# rclone (chunked: a DLO) read back byte for byte through the mount with their real sizes, after `ls`
# and after a remount; files written through the mount read back the same with the swift CLI; a reader
# gets one version while the swift CLI replaces the object; a deleted file never shows in a listing
# again; of two mounts racing for one path only the winner's segments stay; folder markers are
# application/directory and only for folders the store does not hold already; `rm -r` of a snapshot
# holding the CLI's SLO and DLO leaves no manifest and no segment.
# snapfs-servers: swift rgw
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/versions.sh"
source "$SNAPFS_SRC/tests/lib/interop.sh"
source "$SNAPFS_SRC/tests/lib/swift.sh"
start_swift mem=384
command -v swift >/dev/null || die "the swift CLI is not installed (python3-swiftclient, tools/deps.sh)"
swift_mkcontainer snap
export ST_AUTH=$SWIFT_AUTH ST_USER=$SWIFT_USER ST_KEY=$SWIFT_KEY
export RCLONE_CONFIG_SW_TYPE=swift RCLONE_CONFIG_SW_AUTH=$SWIFT_AUTH RCLONE_CONFIG_SW_USER=$SWIFT_USER \
	RCLONE_CONFIG_SW_KEY=$SWIFT_KEY RCLONE_CONFIG_SW_AUTH_VERSION=1

ic_mount() {
	mount_snapfs swift://snap "$1" --secret-dir "$SWIFT_SECRET" --cache-dir "$T_DIR/cache-$(basename "$1")" \
		--meta-ttl 1
}
ic_get() { rm -f "$2"; swift download -q snap "$1" -o "$2"; }
export -f ic_get
# swift_put LOCAL KEY [swift upload options]: the CLI uploads LOCAL as KEY
swift_put() {
	local f=$1 k=$2
	shift 2
	(cd "$(dirname "$f")" && swift upload -q "$@" --object-name "$k" snap "$(basename "$f")")
}

S=kubedb/ns/db/snap
swift_put "$(ic_data plain 70000)" "$S/plain.sql" && ic_wrote "$S/plain.sql" "$T_DIR/plain"
swift_put "$(ic_data dlo 3500000)" "$S/dlo.bin" --segment-size 1048576 && ic_wrote "$S/dlo.bin" "$T_DIR/dlo"
swift_put "$(ic_data slo 3500000)" "$S/slo.bin" --segment-size 1048576 --use-slo && ic_wrote "$S/slo.bin" "$T_DIR/slo"
swift_put "$(ic_data odd 1234)" "$S/with space+ünï=%41.sql" && ic_wrote "$S/with space+ünï=%41.sql" "$T_DIR/odd"
env -u AWS_CA_BUNDLE rclone copyto -q --swift-chunk-size 1M "$(ic_data rc 2600000)" "sw:snap/$S/rclone.bin" &&
	ic_wrote "$S/rclone.bin" "$T_DIR/rc"
check "the CLI wrote a DLO" bash -c 'swift stat snap "$1" | grep -q "Manifest:"' _ "$S/dlo.bin"
check "rclone wrote a DLO" bash -c 'swift stat snap "$1" | grep -q "Manifest:"' _ "$S/rclone.bin"

interop_clients_to_mount
interop_mount_to_clients kubedb/ns/db/written

# a reader and the CLI replacing the object under it
cat >"$T_DIR/put" <<EOS
#!/bin/sh
cd "\$(dirname "\$1")" && exec swift upload -q --object-name $S/replaced.bin snap "\$(basename "\$1")"
EOS
chmod +x "$T_DIR/put"
MNT=$T_DIR/mnt
ic_mount "$MNT"
replace_rounds "$T_DIR/put" "$MNT/$S/replaced.bin" 3
delete_list_rounds "$MNT/kubedb/ns/db/dl" 2

# two mounts race to write one path (segments of 8 MiB): only the winner's segments stay
ic_mount "$T_DIR/mnt2"
race_sets() { swift list snap_segments --prefix "$S/race.bin/" | awk -F/ '{print $(NF-1)}' | sort -u | wc -l; }
for r in 1 2; do
	ic_data race-a 17000000 >/dev/null
	ic_data race-b 17500000 >/dev/null
	cp "$T_DIR/race-a" "$MNT/$S/race.bin" & pa=$!
	cp "$T_DIR/race-b" "$T_DIR/mnt2/$S/race.bin" & pb=$!
	wait "$pa" && wait "$pb" || true
	check "race $r: one writer's segments left ($(race_sets) sets)" test "$(race_sets)" = 1
	check "race $r: the object is one writer's file whole" \
		bash -c 'ic_get "$1" "$2" && { cmp -s "$2" "$3" || cmp -s "$2" "$4"; }' _ "$S/race.bin" "$T_DIR/race-back" \
		"$T_DIR/race-a" "$T_DIR/race-b"
done
umount_snapfs "$T_DIR/mnt2"

# mkdir writes an application/directory marker; rm -r takes the CLI's large objects whole
check "mkdir an empty folder" mkdir "$MNT/kubedb/ns/db/snap/empty"
# a mount that trusts "nothing there" for 60 s: mkdir -p must still see the folder another client filled
mount_snapfs swift://snap "$T_DIR/mnt3" --secret-dir "$SWIFT_SECRET" --cache-dir "$T_DIR/cache-mnt3" --meta-ttl 60
ls "$T_DIR/mnt3/$S/cli" >/dev/null 2>&1 || true
swift_put "$T_DIR/plain" "$S/cli/f.sql"
check "mkdir -p over a folder another client filled" mkdir -p "$T_DIR/mnt3/$S/cli"
check "writes no marker for it" test -z "$(swift list snap --prefix "$S/cli/" | grep -x "$S/cli/")"
umount_snapfs "$T_DIR/mnt3"
check "its marker is application/directory" \
	bash -c 'swift stat snap kubedb/ns/db/snap/empty/ | grep -q "Content Type: application/directory"'
check "rm -r of the snapshot" rm -r "$MNT/kubedb/ns/db/snap"
umount_snapfs "$MNT"
check "no object of it is left" test -z "$(swift list snap --prefix "$S/")"
check "no segment is left" test -z "$(swift list snap_segments --prefix "$S/")"
check "no delete failed" bash -c '! grep -q "delete of .* failed" "$1"/snapfs-*.log' _ "$T_DIR"
finish
