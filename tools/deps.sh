#!/usr/bin/env bash
# Install what building and testing snapfs needs on a fresh Debian 12 machine: the build dependencies,
# the real servers the tests start (PostgreSQL, Swift, memcached, Keystone under uwsgi, Ceph's monitor, OSD
# and RADOS Gateway; s3rver and azurite from npm) and the peers the benchmark compares against.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(
	build-essential cmake pkg-config git ca-certificates curl openssl util-linux python3 python3-cryptography python3-yaml python3-crcmod python3-boto3
	libfuse3-dev fuse3 libcurl4-openssl-dev libssl-dev libxml2-dev libjansson-dev libcmocka-dev
	valgrind clang libclang-rt-14-dev cppcheck
	postgresql postgresql-contrib
	swift swift-proxy swift-account swift-container swift-object memcached
	keystone python3-keystonemiddleware uwsgi-core uwsgi-plugin-python3
	ceph-mon ceph-osd radosgw ceph-common uuid-runtime
	s3fs rclone python3-swiftclient python3-boto3
)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node and npm: the machine's own when it has them (a packaged Node may bundle npm), else Debian's
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ "${#missing[@]}" -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian's swift and postgresql packages try to start services; nothing here runs them but the tests.
if [ ! -d tests/servers/node_modules/s3rver ] || [ ! -d tests/servers/node_modules/azurite ]; then
	echo "deps: installing the npm test servers (s3rver, azurite)"
	(cd tests/servers && npm install --no-audit --no-fund --loglevel=error >/dev/null)
fi
[ -e /dev/fuse ] || { echo "deps: /dev/fuse is missing: FUSE cannot work on this machine" >&2; exit 1; }
echo "deps: ready"
