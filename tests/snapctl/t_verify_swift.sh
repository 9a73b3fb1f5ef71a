#!/bin/bash
# snapctl verify against OpenStack Swift: the Snapfs-Sha256 metadata, the ETag (MD5) of a plain object;
# a large object is a manifest, whose ETag covers its segments' ETags, not the bytes.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/swift.sh"
source "$SNAPFS_SRC/tests/snapctl/lib.sh"
source "$SNAPFS_SRC/tests/snapctl/verify_lib.sh"

start_swift
swift_mkcontainer kubedb
# the object server's disk of the Swift that came up (start_swift may take more than one try)
verify_suite swift://kubedb/team-a "$(ls -d "$T_DIR"/swift-*/srv | tail -n 1)" --secret-dir "$SWIFT_SECRET"
verify_checked swift://kubedb/team-a "sha256 for every object, the MD5 ETag of a plain one" \
	"[('base.tar', 'sha256'), ('dumpfile.sql', 'sha256+md5'), ('extra/notes.txt', 'sha256+md5')]" \
	--secret-dir "$SWIFT_SECRET"
finish
