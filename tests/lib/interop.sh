# Interop: objects written by other clients (rclone, the swift CLI, boto3) read back through the mount
# byte for byte, with their real sizes, after `ls` and after a remount; what the mount writes reads back
# the same with those clients. Use after common.sh and versions.sh. The test defines:
#   ic_mount MNT        mount snapfs on MNT for the store under test (a short --meta-ttl: 1 s)
#   ic_get KEY DEST     read object KEY with a client (not the mount)
# and records every object a client wrote with ic_wrote KEY LOCAL_FILE. Keys are full store keys
# ("kubedb/ns/db/snap/name"); the mount shows them at MNT/KEY.
IC_KEYS=()
IC_FILES=()
# rclone reads its remotes from the environment; no config file of the user's
export RCLONE_CONFIG=/dev/null
unset AWS_CA_BUNDLE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN

ic_wrote() { IC_KEYS+=("$1"); IC_FILES+=("$2"); }

# ic_data NAME SIZE: a local file of random bytes
ic_data() {
	head -c "$2" /dev/urandom >"$T_DIR/$1"
	echo "$T_DIR/$1"
}

ic_get_cmp() { ic_get "$1" "$2" >/dev/null 2>&1 && cmp -s "$2" "$3"; }

ic_size_is() { [ "$(stat -c %s "$1")" = "$2" ]; }

# ic_read_back MNT HOW: every recorded object, through the mount; HOW is "after ls" (sizes as the
# listing gave them) or "after a remount" (no listing first)
ic_read_back() {
	local mnt=$1 how=$2 i k f size
	for i in "${!IC_KEYS[@]}"; do
		k=${IC_KEYS[$i]} f=${IC_FILES[$i]}
		size=$(stat -c %s "$f")
		if [ "$how" = "after ls" ]; then
			ls -l "$(dirname "$mnt/$k")" >/dev/null
			check "$how: $k is listed with its $size bytes" ic_size_is "$mnt/$k" "$size"
		fi
		check "$how: $k reads back byte for byte" cmp -s "$mnt/$k" "$f"
	done
}

# interop_clients_to_mount: what the clients wrote, through a fresh mount (after ls) and a second one
interop_clients_to_mount() {
	local mnt=$T_DIR/mnt-ic
	ic_mount "$mnt"
	ic_read_back "$mnt" "after ls"
	umount_snapfs "$mnt"
	ic_mount "$mnt"
	ic_read_back "$mnt" "after a remount"
	umount_snapfs "$mnt"
}

# interop_mount_to_clients SNAPKEY: files written through the mount (small, large, odd names) read
# back the same with the client
interop_mount_to_clients() {
	local snap=$1 mnt=$T_DIR/mnt-ic n f
	ic_mount "$mnt"
	mkdir -p "$mnt/$snap"
	local names=("small.sql" "big dump.bin" "ünï+cödé=1%41.sql")
	local sizes=(1000 9437184 300000)
	for n in 0 1 2; do
		f=$(ic_data "mnt-$n" "${sizes[$n]}")
		check "write ${names[$n]} through the mount" cp "$f" "$mnt/$snap/${names[$n]}"
	done
	umount_snapfs "$mnt"
	for n in 0 1 2; do
		rm -f "$T_DIR/back-$n"
		check "the client reads ${names[$n]} as written" \
			ic_get_cmp "$snap/${names[$n]}" "$T_DIR/back-$n" "$T_DIR/mnt-$n"
	done
}
