# Shared by the snapctl verify tests: snapshots written through a real mount, one byte flipped where the
# test server keeps the object's bytes, and the verdicts checked. Source after common.sh and lib.sh.

# flip_byte DATADIR ORIGINAL OFFSET: in every file below DATADIR (the test server's storage) that holds
# the 64 bytes of ORIGINAL around OFFSET, flip the byte at OFFSET. Fails when no copy was found.
flip_byte() {
	python3 - "$1" "$2" "$3" <<'PY'
import os, sys
root, orig, off = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(orig, "rb") as f:
    f.seek(off - 32)
    needle = f.read(64)
hits = 0
for d, _, files in os.walk(root):
    for name in files:
        p = os.path.join(d, name)
        if os.path.islink(p) or not os.path.isfile(p):
            continue
        with open(p, "r+b") as f:
            data = f.read()
            at = data.find(needle)
            while at >= 0:
                f.seek(at + 32)
                f.write(bytes([data[at + 32] ^ 0x01]))
                hits += 1
                at = data.find(needle, at + 1)
print(f"flipped the byte at {off} in {hits} stored cop{'y' if hits == 1 else 'ies'}", file=sys.stderr)
sys.exit(0 if hits else 1)
PY
}

# flip_rados DATADIR ORIGINAL OFFSET: the same in the RADOS objects of the Ceph cluster tests/lib/rgw.sh
# started (RGW keeps an object's bytes in RADOS objects of its data pool; memstore holds them in RAM):
# each object is read, changed and written back whole, which keeps its attributes (RGW's manifest).
flip_rados() {
	python3 - "$RGW_DIR/ceph.conf" "$2" "$3" <<'PY'
import subprocess, sys, tempfile, os
conf, orig, off = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(orig, "rb") as f:
    f.seek(off - 32)
    needle = f.read(64)
rados = ["rados", "-c", conf, "-p", "default.rgw.buckets.data"]
names = subprocess.run(rados + ["ls"], check=True, capture_output=True, text=True).stdout.split("\n")
hits = 0
with tempfile.TemporaryDirectory() as d:
    tmp = os.path.join(d, "obj")
    for n in filter(None, names):
        subprocess.run(rados + ["get", n, tmp], check=True)
        data = bytearray(open(tmp, "rb").read())
        at, found = data.find(needle), False
        while at >= 0:
            data[at + 32] ^= 0x01
            hits += 1
            found = True
            at = data.find(needle, at + 1)
        if found:
            open(tmp, "wb").write(data)
            subprocess.run(rados + ["put", n, tmp], check=True)
print(f"flipped the byte at {off} in {hits} RADOS object{'' if hits == 1 else 's'}", file=sys.stderr)
sys.exit(0 if hits else 1)
PY
}

# verify_checked SOURCE WHAT EXPECTED CRED...: `snapctl verify SOURCE demo/pg/good` (verify_suite's good
# snapshot) compared, object by object, what EXPECTED says: a Python list of (name, checked), sorted.
verify_checked() {
	local src=$1 what=$2 want=$3
	shift 3
	check "verify good: what was compared" sc verify "$src" demo/pg/good -o json "$@"
	check "verify good: $what" json_eq 'sorted((o["name"], o["checked"]) for o in j["objects"])' "$want"
}

# verify_suite SOURCE DATADIR [credential options...]: three snapshots demo/pg/{good,bad1,bad2}, each a
# 3 MiB dump (one request), a 20 MiB one (parts: 8+8+4 MiB) and a small file in a sub-folder; one byte
# flipped in bad1's small dump and in bad2's large one (by $VERIFY_FLIP, flip_byte unless set). verify passes good, fails bad1 and bad2 and names
# the object; --all shows all three.
verify_suite() {
	local src=$1 data=$2; shift 2
	local mnt=$T_DIR/vmnt k s rc
	mount_snapfs "$src" "$mnt" "$@" --cache-dir "$T_DIR/vcache" --meta-ttl 0
	k=$mnt/kubedb
	for s in good bad1 bad2; do
		mkdir -p "$k/demo/pg/$s/extra"
		head -c 3M /dev/urandom >"$T_DIR/$s.small"
		head -c 20M /dev/urandom >"$T_DIR/$s.big"
		cp "$T_DIR/$s.small" "$k/demo/pg/$s/dumpfile.sql"
		cp "$T_DIR/$s.big" "$k/demo/pg/$s/base.tar"
		echo "taken by the nightly job" >"$k/demo/pg/$s/extra/notes.txt"
	done
	umount_snapfs "$mnt"

	check "verify an intact snapshot: exit 0" sc verify "$src" demo/pg/good "$@"
	cat "$T_DIR/out" "$T_DIR/err"
	check "verify good: three objects ok" test "$(grep -c '^ok  ' "$T_DIR/out")" = 3
	check "verify good: names them" test "$(awk '$1 == "ok" {print $2}' "$T_DIR/out" | sort | tr '\n' ' ')" = \
		"demo/pg/good/base.tar demo/pg/good/dumpfile.sql demo/pg/good/extra/notes.txt "
	check "verify good: summary with the throughput" \
		has "$T_DIR/out" '^3 objects, 23\.0 MiB read in [0-9.]+ s \([0-9.]+ [KMG]?i?B/s, 4 parallel reads\): 3 ok, 0 mismatched'
	check "verify good -o json --jobs 2" sc verify "$src" demo/pg/good -o json --jobs 2 "$@"
	check "verify good json: intact, 3 ok" json_eq '(j["summary"]["intact"], j["summary"]["ok"], j["summary"]["parallel_reads"])' "(True, 3, 2)"
	check "verify good json: the SHA-256 of the bytes" \
		json_eq '[o["sha256"] for o in j["objects"] if o["name"] == "dumpfile.sql"][0]' \
		"$(sha256sum "$T_DIR/good.small" | cut -d' ' -f1)"

	check "flip a byte of bad1/dumpfile.sql in the server's storage" \
		"${VERIFY_FLIP:-flip_byte}" "$data" "$T_DIR/bad1.small" 1000000
	check "flip a byte of bad2/base.tar in the server's storage" \
		"${VERIFY_FLIP:-flip_byte}" "$data" "$T_DIR/bad2.big" $((13 * 1048576 + 7))

	rc=0; sc verify "$src" demo/pg/bad1 "$@" || rc=$?
	cat "$T_DIR/out" "$T_DIR/err"
	check "verify bad1: exit 1" test "$rc" = 1
	check "verify bad1: names the damaged object" has "$T_DIR/out" '^MISMATCH +demo/pg/bad1/dumpfile\.sql .*mismatch'
	check "verify bad1: the others are ok" test "$(grep -c '^ok  ' "$T_DIR/out")" = 2
	check "verify bad1: says NOT intact" has "$T_DIR/err" '^snapctl: NOT intact: 1 object damaged'
	rc=0; sc verify "$src" demo/pg/bad2 "$@" || rc=$?
	cat "$T_DIR/out"
	check "verify bad2: exit 1" test "$rc" = 1
	check "verify bad2: names the damaged object" has "$T_DIR/out" '^MISMATCH +demo/pg/bad2/base\.tar .*mismatch'
	check "verify bad2: the others are ok" test "$(grep -c '^ok  ' "$T_DIR/out")" = 2
	rc=0; sc verify "$src" --all demo/pg -o json "$@" || rc=$?
	check "verify --all demo/pg: exit 1" test "$rc" = 1
	check "verify --all demo/pg: exactly the two damaged objects" \
		json_eq 'sorted((o["snapshot"], o["name"]) for o in j["objects"] if o["result"] != "ok")' \
		"[('demo/pg/bad1', 'dumpfile.sql'), ('demo/pg/bad2', 'base.tar')]"
	check "verify --all demo/pg: 9 objects" json_eq 'j["summary"]["objects"]' 9
	check "verify good still passes" sc verify "$src" demo/pg/good "$@"
	check "verify of a missing snapshot fails" fails "$SNAPCTL" verify "$src" demo/pg/nosuch "$@"
	check "verify of a missing snapshot: one line" one_line "$T_DIR/err"
}
