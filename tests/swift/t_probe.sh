#!/bin/bash
# The write check at mount on Swift: a segment and the manifest big files get (SLO, or DLO where the
# mount makes DLOs) for PREFIX/.snapfs-probe-<random>, a HEAD and a delete. A mount leaves no probe
# object and no segment. Where the mount makes SLOs (Debian's Swift), a store that refuses the SLO
# manifest at the object's key (the fault proxy answers 400 to its ?multipart-manifest=put) is asked for a
# DLO, and the mount goes on with DLOs (a big file written then is a DLO and reads back whole); a store that refuses the DLO
# manifest too (403 to the PUT with X-Object-Manifest) fails the mount with one line naming the step and
# the store's reasons, before anything is mounted, and leaves no segment. Where the mount makes DLOs from
# the start (Ceph RGW, SWIFT_SERVER=rgw: it never gives an SLO's manifest back), the refused DLO manifest
# fails the mount the same way. The mount time with and without the check is logged.
# Every request of the refusal cases goes through the proxy: ST_AUTH names it, and --endpoint gives the
# account on it (authentication hands out the server's own storage URL).
# snapfs-servers: swift rgw
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/swift.sh"
source "$SNAPFS_SRC/tests/faults/proxy.sh"
source "$SNAPFS_SRC/tests/lib/probe.sh"

start_swift
swift_mkcontainer kubedb
swift_token
probe_objects() { swift_curl "/kubedb?prefix=team-a/.snapfs-probe-"; }
# segments: the probe uploads' segments (the big file's own stay)
segments() { swift_curl "/kubedb_segments?prefix=team-a/.snapfs-probe-"; }

probe_mount ok swift://kubedb/team-a --secret-dir "$SWIFT_SECRET" --cache-dir "$T_DIR/cache-ok"
check "Swift: mounted after the write check" probe_ok ok
key=$(probe_key ok)
check "the probe object is under the prefix, beside kubedb/" grep -Eq '^team-a/\.snapfs-probe-[0-9a-f]{16}$' <<<"$key"
check "no probe object left" test -z "$(probe_objects)"
check "no segment left" test -z "$(segments)"
LARGE=${SWIFT_LARGE:-slo}   # what the mount makes of big files on this server (tests/lib/swift.sh)
check "the write check did not turn SLOs into DLOs" bash -c '! grep -q "are DLOs" "$1"' _ "$T_DIR/snapfs-mnt-ok.log"
umount_snapfs "$T_DIR/mnt-ok"
probe_measure time swift://kubedb/team-a --secret-dir "$SWIFT_SECRET" --cache-dir "$T_DIR/cache-time"
check "no probe object, no segment left after 5 more mounts" test -z "$(probe_objects)$(segments)"

start_fault_proxy "$SWIFT_URL"
ACCOUNT=${SWIFT_STORAGE_URL#"$SWIFT_URL"}     # /v1/AUTH_test, /swift/v1 on RGW
FP_SECRET=$T_DIR/fp-secret
mkdir -p "$FP_SECRET"
printf '%s' "$FP_URL${SWIFT_AUTH#"$SWIFT_URL"}" >"$FP_SECRET/ST_AUTH"
cp "$SWIFT_SECRET/ST_USER" "$SWIFT_SECRET/ST_KEY" "$FP_SECRET/"
chmod 600 "$FP_SECRET"/*
OPTS=(--secret-dir "$FP_SECRET" --endpoint "$FP_URL$ACCOUNT")
# the SLO manifest refused where the write check puts it (the object's own key), not elsewhere
SLO_REFUSED='{"method": "PUT", "path": "/kubedb/team-a/\\.snapfs-probe-", "query": "multipart-manifest=put",
	"action": "status", "status": 400, "body": "refused by the test (SLO)"}'
DLO_REFUSED='{"method": "PUT", "header": "(?i)x-object-manifest:", "action": "status", "status": 403,
	"body": "refused by the test (DLO)"}'

if [ "$LARGE" = slo ]; then
	# ---------- the SLO manifest refused: DLOs ----------
	fp_rules "[$SLO_REFUSED]"
	probe_mount dlo swift://kubedb/team-a "${OPTS[@]}" --cache-dir "$T_DIR/cache-dlo"
	check "SLO manifest refused: mounted all the same" probe_ok dlo
	check "the refusal came from the SLO manifest PUT" \
		grep -Eq "^PUT $ACCOUNT/kubedb/team-a/\.snapfs-probe-[0-9a-f]{16}\?multipart-manifest=put fault:status" "$FP_JOURNAL"
	check "the log says big files are DLOs, and why" grep -q \
		"swift: large objects are DLOs on this mount: the store refused the SLO manifest (swift: .*refused by the test (SLO))" \
		"$T_DIR/snapfs-mnt-dlo.log"
	check "no probe object, no segment left" test -z "$(probe_objects)$(segments)"
	head -c 20000000 /dev/urandom >"$T_DIR/data"
	mkdir -p "$T_DIR/mnt-dlo/kubedb/ns/db/snap"
	cp "$T_DIR/data" "$T_DIR/mnt-dlo/kubedb/ns/db/snap/big"
	is_dlo() { swift_curl -I "/kubedb/$1" | grep -qi "^x-object-manifest: kubedb_segments/"; }
	check "a big file then is a DLO" is_dlo team-a/kubedb/ns/db/snap/big
	swift_curl -o "$T_DIR/back" "/kubedb/team-a/kubedb/ns/db/snap/big"
	check "and reads back whole, straight from Swift" same_file "$T_DIR/data" "$T_DIR/back"
	umount_snapfs "$T_DIR/mnt-dlo"
fi

# ---------- every manifest refused: no mount ----------
fp_reset
fp_rules "[$SLO_REFUSED, $DLO_REFUSED]"
probe_mount none swift://kubedb/team-a "${OPTS[@]}" --cache-dir "$T_DIR/cache-none"
if [ "$LARGE" = slo ]; then
	check "SLO and DLO manifests refused: the mount fails with one line" probe_refused none \
		"^snapfs: cannot mount swift://kubedb/team-a: write check: committing the chunked upload of team-a/\.snapfs-probe-[0-9a-f]{16} failed: swift: .*refused by the test \(DLO\) \(as a DLO; as an SLO: swift: .*refused by the test \(SLO\)\)$"
else
	check "the DLO manifest refused: the mount fails with one line" probe_refused none \
		"^snapfs: cannot mount swift://kubedb/team-a: write check: committing the chunked upload of team-a/\.snapfs-probe-[0-9a-f]{16} failed: swift: .*refused by the test \(DLO\)$"
fi
log "it said: $(cat "$T_DIR/none.err")"
check "the DLO manifest was asked for" grep -Eq "^PUT $ACCOUNT/kubedb/team-a/\.snapfs-probe-[0-9a-f]{16} fault:status" "$FP_JOURNAL"
check "no probe object, no segment left" test -z "$(probe_objects)$(segments)"
finish
