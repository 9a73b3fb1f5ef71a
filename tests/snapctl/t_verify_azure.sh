#!/bin/bash
# snapctl verify against Azure Blob storage (Azurite): the snapfs_sha256 metadata and Content-MD5.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/azure.sh"
source "$SNAPFS_SRC/tests/snapctl/lib.sh"
source "$SNAPFS_SRC/tests/snapctl/verify_lib.sh"

start_azurite
verify_suite azure://kubedb/team-a "$T_DIR/azurite-data" --secret-dir "$AZ_SECRET" --endpoint "$AZ_ENDPOINT"
verify_checked azure://kubedb/team-a "sha256 for every object, Content-MD5 for a one-request blob" \
	"[('base.tar', 'sha256'), ('dumpfile.sql', 'sha256+md5'), ('extra/notes.txt', 'sha256+md5')]" \
	--secret-dir "$AZ_SECRET" --endpoint "$AZ_ENDPOINT"
finish
