#!/bin/bash
# snapctl verify against the GCS test server: the snapfs-sha256 metadata, md5Hash and crc32c.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/gcs.sh"
source "$SNAPFS_SRC/tests/snapctl/lib.sh"
source "$SNAPFS_SRC/tests/snapctl/verify_lib.sh"

start_gcs_server
verify_suite gs://kubedb/team-a "$GCS_DATA" --secret-dir "$GCS_SECRET" --endpoint "$GCS_URL"
verify_checked gs://kubedb/team-a "sha256, md5 and crc32c for every object" \
	"[('base.tar', 'sha256+md5+crc32c'), ('dumpfile.sql', 'sha256+md5+crc32c'), ('extra/notes.txt', 'sha256+md5+crc32c')]" \
	--secret-dir "$GCS_SECRET" --endpoint "$GCS_URL"
finish
