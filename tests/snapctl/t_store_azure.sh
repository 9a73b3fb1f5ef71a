#!/bin/bash
# snapctl against Azure Blob storage (Azurite), with a prefix in the SOURCE.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/azure.sh"
source "$SNAPFS_SRC/tests/snapctl/lib.sh"

start_azurite
store_suite azure://kubedb/team-a --secret-dir "$AZ_SECRET" --endpoint "$AZ_ENDPOINT"
check "wrong credentials: one line naming the account" bash -c "
	mkdir -p '$T_DIR/bad' && printf devstoreaccount1 >'$T_DIR/bad/AZURE_ACCOUNT_NAME' &&
	printf 'd3Jvbmcga2V5IHdyb25nIGtleSB3cm9uZyBrZXkgd3Jvbmcga2V5IHdyb25nIGtleQ==' >'$T_DIR/bad/AZURE_ACCOUNT_KEY' &&
	! '$SNAPCTL' ls azure://kubedb --secret-dir '$T_DIR/bad' --endpoint '$AZ_ENDPOINT' 2>'$T_DIR/err' &&
	test \$(wc -l <'$T_DIR/err') -eq 1 && grep -q devstoreaccount1 '$T_DIR/err'"
cat "$T_DIR/err"
finish
