# Azurite (the Azure Storage emulator, from tests/servers/node_modules) on 127.0.0.1 for the azure tests.
# Use after common.sh: start_azurite sets AZ_PORT, AZ_ENDPOINT (path style, for --endpoint), AZ_SECRET (a
# --secret-dir with AZURE_ACCOUNT_NAME / AZURE_ACCOUNT_KEY) and creates the container "kubedb".
# azcli (tests/azure/azcli.py) is an independent client for checking what landed in the store.

AZ_ACCOUNT=devstoreaccount1
# The emulator's published development key: public, the same in every Azurite install.
AZ_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
AZURITE_BIN=$SNAPFS_SRC/tests/servers/node_modules/.bin/azurite-blob
export AZ_ACCOUNT AZ_KEY

azcli() { python3 "$SNAPFS_SRC/tests/azure/azcli.py" "$@"; }

# write_azure_secret DIR NAME KEY: a secret dir as `kubectl create secret generic --from-file` lays it out
write_azure_secret() {
	local dir=$1
	mkdir -p "$dir"
	printf '%s' "$2" >"$dir/AZURE_ACCOUNT_NAME"
	printf '%s\n' "$3" >"$dir/AZURE_ACCOUNT_KEY"   # a trailing newline, as `echo KEY > file` leaves
	chmod 600 "$dir"/AZURE_ACCOUNT_*
}

start_azurite() {
	[ -x "$AZURITE_BIN" ] || die "azurite is not installed: run 'npm ci' in tests/servers"
	AZ_PORT=$(free_port)
	mkdir -p "$T_DIR/azurite-data"
	bg azurite "$AZURITE_BIN" --blobHost 127.0.0.1 --blobPort "$AZ_PORT" \
		--location "$T_DIR/azurite-data" --silent --skipApiVersionCheck --disableTelemetry >/dev/null
	wait_http "http://127.0.0.1:$AZ_PORT/"
	AZ_ENDPOINT=http://127.0.0.1:$AZ_PORT/$AZ_ACCOUNT
	export AZ_PORT AZ_ENDPOINT
	AZ_SECRET=$T_DIR/azure-secret
	write_azure_secret "$AZ_SECRET" "$AZ_ACCOUNT" "$AZ_KEY"
	azcli mkcontainer kubedb
}
