#!/bin/bash
# mount.snapfs: as mount(8) runs it for `mount -t fuse.snapfs` and fstab lines of that type. The real
# `mount -t` path needs /sbin/mount.fuse.snapfs; the test does not touch the machine's /sbin but runs in
# a private mount namespace where a copy of the sbin folder (links) with the helper is bound over it.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/snapctl/lib.sh"

HELPER=$SNAPFS_BUILD/mount.snapfs
[ -x "$HELPER" ] || die "$HELPER is not built"
VOL=$T_DIR/vol
mkdir -p "$VOL" "$T_DIR/cache"

# --- translation only (-f: fake)
check "-f shows the snapfs call" "$HELPER" "file://$VOL" "$T_DIR/m0" -f -t fuse.snapfs \
	-o defaults,_netdev,noauto,x-systemd.automount,comment=x,secret_dir=/s,endpoint=http://e:9,rw,allow_other \
	2>"$T_DIR/fake"
check "-f: mount's own words are left out, the rest kept in order" \
	grep -qx "$(readlink -f "$SNAPFS_BUILD")/snapfs file://$VOL $T_DIR/m0 -o secret_dir=/s,endpoint=http://e:9,rw,allow_other" \
	"$T_DIR/fake"
check "-f: nothing mounted" bash -c "! mountpoint -q '$T_DIR/m0' 2>/dev/null"
check "--help" bash -c "'$HELPER' --help | grep -q '^usage: mount.snapfs SOURCE MOUNTPOINT'"
check "a wrong type is refused" fails "$HELPER" "file://$VOL" "$T_DIR/m0" -t fuse.sshfs
check "a wrong type: says so" has "$T_DIR/err" 'is not fuse.snapfs'
check "missing arguments" fails "$HELPER" "file://$VOL"
check "no daemon found" fails env SNAPFS_BIN=/nonexistent "$HELPER" "file://$VOL" "$T_DIR/m0"

# --- a real mount through the helper, called as mount(8) calls it
M1=$T_DIR/m1
mkdir -p "$M1"
T_MOUNTS+=("$M1")
check "mount.snapfs mounts" "$HELPER" "file://$VOL" "$M1" -n \
	-o "cache_dir=$T_DIR/cache,log_file=$T_DIR/helper.log,log-level=debug,_netdev,nofail"
check "it is a snapfs mount" bash -c "grep -q ' $M1 fuse.snapfs ' /proc/self/mounts"
mkdir -p "$M1/kubedb/demo/pg/h1"
head -c 3M /dev/urandom >"$T_DIR/h1"
cp "$T_DIR/h1" "$M1/kubedb/demo/pg/h1/dumpfile.sql"
check "a file written through it lands in the store" \
	same_file "$T_DIR/h1" "$VOL/kubedb/demo/pg/h1/dumpfile.sql"
check "the options reached the daemon (log level)" has "$T_DIR/helper.log" ' debug: '
umount_snapfs "$M1"
check "a bad option fails the mount with a reason" \
	fails "$HELPER" "file://$VOL" "$M1" -o "cache_dir=$T_DIR/cache,bogus=1"
check "a bad option: names it" has "$T_DIR/err" "bogus"
check "a missing store fails the mount with a reason" fails "$HELPER" "file://$T_DIR/none" "$M1" \
	-o "cache_dir=$T_DIR/cache"
check "a missing store: says so" has "$T_DIR/err" 'does not exist'

# --- mount -t fuse.snapfs and an fstab line, in a private mount namespace
SB=$T_DIR/sbin
mkdir -p "$SB"
for f in /usr/sbin/*; do ln -s "$f" "$SB/"; done
ln -sf "$HELPER" "$SB/mount.fuse.snapfs"
M2=$T_DIR/m2
M3=$T_DIR/m3
mkdir -p "$M2" "$M3"
cat >"$T_DIR/fstab" <<EOF
# the line an admin writes: SOURCE MOUNTPOINT fuse.snapfs OPTIONS 0 0
file://$VOL $M3 fuse.snapfs _netdev,noauto,x-systemd.automount,cache_dir=$T_DIR/cache,log_file=$T_DIR/fstab.log 0 0
EOF
head -c 2M /dev/urandom >"$T_DIR/h2"
head -c 1M /dev/urandom >"$T_DIR/h3"
cat >"$T_DIR/inner.sh" <<EOF
set -u
fail=0
ok() { echo "ok - \$1"; }
bad() { echo "not ok - \$1" >&2; fail=1; }
trap 'fusermount3 -u "$M2" 2>/dev/null; fusermount3 -u "$M3" 2>/dev/null' EXIT
mount --bind "$SB" /usr/sbin || exit 3
[ -x /sbin/mount.fuse.snapfs ] && ok "helper in place" || bad "helper in place"
if mount -t fuse.snapfs "file://$VOL" "$M2" -o cache_dir=$T_DIR/cache,log_file=$T_DIR/mt.log,_netdev; then
	ok "mount -t fuse.snapfs"
	mkdir -p "$M2/kubedb/demo/pg/h2" && cp "$T_DIR/h2" "$M2/kubedb/demo/pg/h2/dumpfile.sql" &&
		ok "write through mount -t" || bad "write through mount -t"
	grep -q " $M2 fuse.snapfs " /proc/self/mounts && ok "listed as fuse.snapfs" || bad "listed as fuse.snapfs"
	umount "$M2" && ok "umount" || bad "umount"
else
	bad "mount -t fuse.snapfs"
fi
if mount --fstab "$T_DIR/fstab" "$M3"; then
	ok "mount by its fstab line"
	mkdir -p "$M3/kubedb/demo/pg/h3" && cp "$T_DIR/h3" "$M3/kubedb/demo/pg/h3/dumpfile.sql" &&
		ok "write through the fstab mount" || bad "write through the fstab mount"
	umount "$M3" && ok "umount the fstab mount" || bad "umount the fstab mount"
else
	bad "mount by its fstab line"
fi
exit \$fail
EOF
check "mount -t fuse.snapfs and fstab, in a private namespace" \
	unshare -m --propagation private bash "$T_DIR/inner.sh"
# umount returns before the daemon has exited; the objects were complete at close() already
check "the file from mount -t is in the store" same_file "$T_DIR/h2" "$VOL/kubedb/demo/pg/h2/dumpfile.sql"
check "the file from the fstab mount is in the store" \
	same_file "$T_DIR/h3" "$VOL/kubedb/demo/pg/h3/dumpfile.sql"
check "snapctl sees all three" sc ls "file://$VOL" demo/pg -o json
check "snapctl sees all three: names" json_eq '[s["name"] for s in j]' "['h1', 'h2', 'h3']"

# the examples parse: systemd unit keys and the Kubernetes manifest
EX=$SNAPFS_SRC/tools/examples
check "systemd unit: Type=fuse.snapfs" grep -qx 'Type=fuse.snapfs' "$EX/mnt-snap.mount"
check "systemd unit: Where matches the unit name" grep -qx 'Where=/mnt/snap' "$EX/mnt-snap.mount"
check "fstab example: type fuse.snapfs" bash -c "grep -v '^#' '$EX/fstab' | grep -q ' fuse.snapfs '"
check "kubernetes example is valid YAML with a Job" python3 - "$EX/snapfs-backup-job.yaml" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
kinds = [d["kind"] for d in docs]
assert "Job" in kinds, kinds
job = next(d for d in docs if d["kind"] == "Job")
c = job["spec"]["template"]["spec"]["containers"][0]
assert c["securityContext"].get("privileged") or "SYS_ADMIN" in c["securityContext"]["capabilities"]["add"]
mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
script = " ".join(c.get("command", []) + c.get("args", []))
assert "--secret-dir" in script and "pg_dumpall" in script and "kubedb/" in script
assert any(v.get("secret") for v in job["spec"]["template"]["spec"]["volumes"])
PY
finish
