#!/bin/bash
# snapctl against OpenStack Swift (TempAuth), with a prefix in the SOURCE; and against Ceph RGW's Swift API.
source "$SNAPFS_SRC/tests/lib/common.sh"
# snapfs-servers: swift rgw
source "$SNAPFS_SRC/tests/lib/swift.sh"
source "$SNAPFS_SRC/tests/snapctl/lib.sh"

start_swift
swift_mkcontainer kubedb
store_suite swift://kubedb/team-a --secret-dir "$SWIFT_SECRET"
finish
