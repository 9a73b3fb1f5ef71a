# Checks that a restore reads exactly what the store holds, for any store a test can write to with
# a client of its own (not the mount). Use after common.sh. The test provides an executable
# PUT (argument: a local file) that writes it as the object KEY behind the mount, and the mount path
# FILE of that object; the mount runs with a short --meta-ttl (1 s).
#   replace_rounds PUT FILE ROUNDS: a reader is half way through when PUT replaces the object (each
#     round with another size: shorter, longer, the same): it gets the old version whole or EIO, never
#     a mix or zeros; afterwards the mount reads the new version byte for byte (after the metadata
#     expired: a size the kernel still holds from before must not pad or cut it).

RR_PY=$(command -v /usr/bin/python3 || command -v python3)

# rr_sizes ROUND: old and new size (KiB) of a round
rr_sizes() {
	case $(($1 % 3)) in
	0) echo "9216 7168" ;;    # shorter
	1) echo "7168 9216" ;;    # longer
	*) echo "8192 8192" ;;    # the same size, other bytes
	esac
}

# rr_reads_as FILE LOCAL: the mount reads FILE as LOCAL, every byte and no more (read, not stat: the
# kernel may still give the old size to stat, see README "One version per read")
rr_reads_as() {
	cat "$1" 2>/dev/null | cmp -s - "$2"
}

replace_rounds() {
	local put=$1 file=$2 rounds=$3 r old new out sum_old
	for r in $(seq "$rounds"); do
		read -r old new < <(rr_sizes "$r")
		head -c "${old}K" /dev/urandom >"$T_DIR/rr-old"
		head -c "${new}K" /dev/urandom >"$T_DIR/rr-new"
		sum_old=$(sha256sum <"$T_DIR/rr-old" | cut -d' ' -f1)
		"$put" "$T_DIR/rr-old"
		check "round $r: the mount reads the first version" eventually rr_reads_as "$file" "$T_DIR/rr-old"
		out=$("$RR_PY" "$SNAPFS_SRC/tests/lib/replace_reader.py" "$file" $((2 << 20)) "$put" "$T_DIR/rr-new")
		log "round $r (${old}K -> ${new}K): $out"
		check "round $r: replaced under the reader: the old version whole or EIO ($out)" \
			bash -c '[ "$1" = "ok $2 $3" ] || [ "${1%% *}" = eio ]' _ "$out" "$sum_old" $((old * 1024))
		check "round $r: then the new version byte for byte" eventually rr_reads_as "$file" "$T_DIR/rr-new"
	done
}

# delete_list_rounds DIR ROUNDS: DIR (in the mount) is filled with small files, then they are
# unlinked one by one while three threads list DIR: no listing begun after an unlink returned may show
# that file (tests/lib/delete_lister.py); ROUNDS times.
delete_list_rounds() {
	local dir=$1 rounds=$2 r i out
	for r in $(seq "$rounds"); do
		mkdir -p "$dir"
		for i in $(seq 40); do
			echo "file $i of round $r" >"$dir/f$i"
		done
		out=$("$RR_PY" "$SNAPFS_SRC/tests/lib/delete_lister.py" "$dir" 2>&1) && i=0 || i=1
		log "delete-then-list round $r: $out"
		check "round $r: no deleted file listed again ($out)" test "$i" = 0
	done
}
