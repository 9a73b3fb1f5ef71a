#!/usr/bin/env bash
# Write-once on the stores with a conditional create: two mounts racing for one new name (a small file in
# one request, a large one in parts) on Azure (Azurite: If-None-Match on Put Blob and Put Block List) and
# GCS (the test server: ifGenerationMatch=0 on the upload): exactly one wins, the store holds its bytes.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/azure.sh"
source "$SNAPFS_SRC/tests/lib/gcs.sh"
source "$SNAPFS_SRC/tests/lib/write_once.sh"

start_azurite
race_suite azure://kubedb/wo --secret-dir "$AZ_SECRET" --endpoint "$AZ_ENDPOINT"
start_gcs_server
race_suite gs://kubedb/wo --secret-dir "$GCS_SECRET" --endpoint "$GCS_URL"
finish
