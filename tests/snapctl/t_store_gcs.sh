#!/bin/bash
# snapctl against the GCS test server, with a prefix in the SOURCE.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/gcs.sh"
source "$SNAPFS_SRC/tests/snapctl/lib.sh"

start_gcs_server --max-results 5
store_suite gs://kubedb/team-a --secret-dir "$GCS_SECRET" --endpoint "$GCS_URL"
finish
