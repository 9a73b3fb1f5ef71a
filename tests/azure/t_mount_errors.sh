# A mount that cannot work fails at once with one line that says why, names the account (never the key),
# and leaves nothing mounted: wrong key, missing container, unreachable endpoint, missing or malformed key.
source "$SNAPFS_SRC/tests/lib/common.sh"
source "$SNAPFS_SRC/tests/lib/azure.sh"

start_azurite

# try_mount NAME SOURCE SECRET_DIR ENDPOINT: run the daemon; keeps its stderr in $T_DIR/NAME.err
try_mount() {
	local name=$1 src=$2 sec=$3 ep=$4 rc=0
	mkdir -p "$T_DIR/mnt-$name"
	T_MOUNTS+=("$T_DIR/mnt-$name")
	# no fallback from the environment of whoever runs the tests
	timeout 60 env -u AZURE_ACCOUNT_NAME -u AZURE_ACCOUNT_KEY "$SNAPFS" "$src" "$T_DIR/mnt-$name" \
		--secret-dir "$sec" --endpoint "$ep" --cache-dir "$T_DIR/cache-$name" --timeout 5 --retries 1 \
		2>"$T_DIR/$name.err" || rc=$?
	echo "$rc" >"$T_DIR/$name.rc"
}

# failed NAME PATTERN: non-zero exit, one line matching PATTERN, no secret in it, not mounted
failed() {
	local name=$1 pattern=$2
	[ "$(cat "$T_DIR/$name.rc")" -ne 0 ] || { echo "exit status 0" >&2; return 1; }
	[ "$(wc -l <"$T_DIR/$name.err")" -eq 1 ] || { cat "$T_DIR/$name.err" >&2; return 1; }
	grep -q -- "$pattern" "$T_DIR/$name.err" || { cat "$T_DIR/$name.err" >&2; return 1; }
	! grep -q -F -- "${AZ_KEY:0:20}" "$T_DIR/$name.err" || { echo "the key was printed" >&2; return 1; }
	! grep -q -F -- "QUJDREVG" "$T_DIR/$name.err" || { echo "the key was printed" >&2; return 1; }
	! mountpoint -q "$T_DIR/mnt-$name"
}

# well-formed base64, the wrong bytes
write_azure_secret "$T_DIR/badkey" "$AZ_ACCOUNT" \
	"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODkwMTIzNDU2Nzg5MGFiY2RlZg=="
try_mount badkey azure://kubedb "$T_DIR/badkey" "$AZ_ENDPOINT"
check "wrong key: authentication failed, names the account" \
	failed badkey "authentication failed for AZURE_ACCOUNT_NAME=$AZ_ACCOUNT: check AZURE_ACCOUNT_KEY"

try_mount nocontainer azure://no-such-container "$AZ_SECRET" "$AZ_ENDPOINT"
check "missing container" failed nocontainer "container 'no-such-container' does not exist"

dead=$(free_port)
start=$(date +%s)
try_mount unreachable azure://kubedb "$AZ_SECRET" "http://127.0.0.1:$dead/$AZ_ACCOUNT"
check "unreachable endpoint" failed unreachable "cannot reach http://127.0.0.1:$dead"
check "unreachable endpoint fails within 30 s" test $(($(date +%s) - start)) -lt 30

mkdir -p "$T_DIR/nokey"
printf '%s' "$AZ_ACCOUNT" >"$T_DIR/nokey/AZURE_ACCOUNT_NAME"
chmod 600 "$T_DIR/nokey/AZURE_ACCOUNT_NAME"
try_mount nokey azure://kubedb "$T_DIR/nokey" "$AZ_ENDPOINT"
check "missing AZURE_ACCOUNT_KEY" failed nokey "AZURE_ACCOUNT_KEY is missing"

write_azure_secret "$T_DIR/notb64" "$AZ_ACCOUNT" "QUJDREVG not base64!"
try_mount notb64 azure://kubedb "$T_DIR/notb64" "$AZ_ENDPOINT"
check "key that is not base64" \
	failed notb64 "AZURE_ACCOUNT_KEY for AZURE_ACCOUNT_NAME=$AZ_ACCOUNT is not valid base64"

write_azure_secret "$T_DIR/otheracct" "someoneelse" "$AZ_KEY"
try_mount otheracct azure://kubedb "$T_DIR/otheracct" "$AZ_ENDPOINT"
check "account name that does not match the key" failed otheracct "AZURE_ACCOUNT_NAME=someoneelse"

# and the right secret (with the trailing newline `echo KEY > file` leaves) mounts
check "right key mounts" mount_snapfs azure://kubedb "$T_DIR/mnt-ok" --secret-dir "$AZ_SECRET" \
	--endpoint "$AZ_ENDPOINT" --cache-dir "$T_DIR/cache-ok"
check "mounted" mountpoint -q "$T_DIR/mnt-ok"
check "kubedb/ is there" test -d "$T_DIR/mnt-ok/kubedb"
umount_snapfs "$T_DIR/mnt-ok"

finish
