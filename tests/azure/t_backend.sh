# The backend conformance suite (tests/conformance/backend_check) against Azurite, then what only Azure
# has: block lists. Everything read back is checked with azcli, a client that shares no code with snapfs.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/azure.sh"

CHECK=$SNAPFS_BUILD/tests/conformance/backend_check
[ -x "$CHECK" ] || die "backend_check is not built ($CHECK)"

start_azurite
log "azurite on port $AZ_PORT"

check "conformance suite (azure://kubedb)" \
	"$CHECK" azure://kubedb --secret-dir "$AZ_SECRET" --endpoint "$AZ_ENDPOINT" --big-mib 24 --many 40
check "conformance suite under a prefix (azure://kubedb/team-a)" \
	"$CHECK" azure://kubedb/team-a --secret-dir "$AZ_SECRET" --endpoint "$AZ_ENDPOINT" \
	--big-mib 8 --many 12
# the suite cleans up after itself: nothing, committed or not, is left visible
check "nothing left in the container" test "$(azcli count kubedb '')" = 0

finish
