#!/usr/bin/env bash
# Write-once on Swift (If-None-Match: * on the object PUT and the manifest PUT): two mounts racing for one
# new name, a small file and a large one (an SLO): exactly one wins, the store holds its bytes.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/swift.sh"
source "$SNAPFS_SRC/tests/lib/write_once.sh"

start_swift
swift_mkcontainer kubedb
race_suite swift://kubedb/wo --secret-dir "$SWIFT_SECRET"
finish
