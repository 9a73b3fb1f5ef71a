# Shared by every integration test: a private work dir, free ports, servers and mounts that are always
# stopped and unmounted on exit (even when the test fails), and small assertions.
# Use: source "$SNAPFS_SRC/tests/lib/common.sh" at the top of a t_*.sh script, which runs with set -eu.
set -euo pipefail

: "${SNAPFS_SRC:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${SNAPFS_BUILD:=$SNAPFS_SRC/build}"
: "${SNAPFS:=$SNAPFS_BUILD/snapfs}"
export SNAPFS_SRC SNAPFS_BUILD SNAPFS

T_NAME=$(basename "$0" .sh)
T_DIR=$(mktemp -d "${TMPDIR:-/tmp}/snapfs-$T_NAME.XXXXXX")
chmod 755 "$T_DIR"
T_MOUNTS=()
T_PIDS=()
T_PGDATAS=()
T_FAILS=0
T_CHECKS=0

t_cleanup() {
	local rc=$?
	set +e
	for m in "${T_MOUNTS[@]}"; do
		# /proc/mounts, not mountpoint(1): a crashed daemon leaves a mount that cannot be stat'ed
		if awk -v m="$m" '$2 == m { f = 1 } END { exit !f }' /proc/mounts; then
			fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
		fi
	done
	for p in "${T_PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	sleep 0.2
	for p in "${T_PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null
	done
	for d in "${T_PGDATAS[@]}"; do
		[ -f "$d/postmaster.pid" ] && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$d" -m immediate stop >/dev/null 2>&1
	done
	if [ "$rc" -ne 0 ] || [ "$T_FAILS" -ne 0 ]; then
		echo "--- $T_NAME failed; logs kept in $T_DIR" >&2
		for f in "$T_DIR"/*.log; do
			[ -f "$f" ] || continue
			echo "--- tail of $f" >&2
			tail -n 30 "$f" >&2
		done
	else
		rm -rf "$T_DIR"
	fi
}
trap t_cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "[$T_NAME] $*" >&2; }
die() { echo "[$T_NAME] FAIL: $*" >&2; exit 1; }

# check "what" command...: a named assertion; the test goes on and fails at the end
check() {
	local what=$1; shift
	T_CHECKS=$((T_CHECKS + 1))
	if "$@"; then
		echo "ok - $what"
	else
		echo "not ok - $what" >&2
		T_FAILS=$((T_FAILS + 1))
	fi
}

# finish: the last line of every test
finish() {
	echo "[$T_NAME] $((T_CHECKS - T_FAILS)) passed, $T_FAILS failed"
	[ "$T_FAILS" -eq 0 ]
}

free_port() {
	python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

# wait_http URL [seconds]: until the URL answers at all
wait_http() {
	local url=$1 n=${2:-60}
	for _ in $(seq $((n * 10))); do
		if curl -s -o /dev/null --max-time 2 "$url"; then return 0; fi
		sleep 0.1
	done
	die "server at $url did not come up in ${n}s"
}

# bg NAME cmd...: start a server in the background, logging to $T_DIR/NAME.log; its PID is stopped on exit
bg() {
	local name=$1; shift
	"$@" >"$T_DIR/$name.log" 2>&1 &
	T_PIDS+=("$!")
	echo "$!"
}

# mount_snapfs SOURCE MNT [options...]: mount and remember it for cleanup; logs to $T_DIR/snapfs-*.log
mount_snapfs() {
	local src=$1 mnt=$2; shift 2
	mkdir -p "$mnt"
	local tag
	tag=$(basename "$mnt")
	T_MOUNTS+=("$mnt")
	"$SNAPFS" "$src" "$mnt" --log-file "$T_DIR/snapfs-$tag.log" --pid-file "$T_DIR/snapfs-$tag.pid" "$@"
}

# umount_snapfs MNT: unmount, then wait until the daemon has finished and exited
umount_snapfs() {
	local mnt=$1 tag pid
	tag=$(basename "$mnt")
	pid=$(cat "$T_DIR/snapfs-$tag.pid" 2>/dev/null || true)
	fusermount3 -u "$mnt"
	for _ in $(seq 1200); do
		if ! mountpoint -q "$mnt" && { [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; }; then
			return 0
		fi
		sleep 0.1
	done
	die "$mnt: the daemon did not exit after unmount"
}

same_file() { cmp -s "$1" "$2"; }

# eventually CMD...: CMD succeeds within 10 s (a log line written as the daemon finishes a release
# may land just after the close that the writer saw)
eventually() {
	for _ in $(seq 100); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# --- PostgreSQL (Debian's postgresql-15), as the postgres user, on a private socket dir ---
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)

# pg_start NAME: a throwaway cluster; sets PGHOST PGPORT PGUSER for the clients
pg_start() {
	local name=${1:-pg}
	T_PGDATA="$T_DIR/$name-data"
	T_PGDATAS+=("$T_PGDATA")
	local sock="$T_DIR/$name-sock"
	mkdir -p "$T_PGDATA" "$sock"
	touch "$T_DIR/$name.log"
	chown postgres: "$T_PGDATA" "$sock" "$T_DIR/$name.log"
	chmod 700 "$T_PGDATA"
	runuser -u postgres -- "$PG_BIN/initdb" -A trust -U postgres -D "$T_PGDATA" >"$T_DIR/$name-initdb.txt" 2>&1
	PGPORT=$(free_port)
	runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$T_PGDATA" -l "$T_DIR/$name.log" -w \
		-o "-p $PGPORT -k $sock -c listen_addresses= -c fsync=off" start >/dev/null
	export PGHOST=$sock PGPORT PGUSER=postgres
}

# pg_stop: stop the current cluster
pg_stop() {
	runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$T_PGDATA" -m fast -w stop >/dev/null
}

# pg_fill: a few databases with data worth dumping
pg_fill() {
	local scale=${1:-2}
	for db in shop inventory analytics; do
		psql -q -c "CREATE DATABASE $db" postgres
	done
	pgbench -q -i -s "$scale" shop >/dev/null 2>&1
	psql -q inventory <<'SQL'
CREATE TABLE item (id serial PRIMARY KEY, name text NOT NULL, qty int, note text);
INSERT INTO item (name, qty, note) SELECT 'item-' || g, g % 97, repeat(md5(g::text), 4) FROM generate_series(1, 20000) g;
CREATE INDEX ON item (name);
SQL
	psql -q analytics <<'SQL'
CREATE TABLE event (at timestamptz, kind text, payload jsonb);
INSERT INTO event SELECT now() - g * interval '1 minute', 'k' || (g % 7), jsonb_build_object('n', g, 's', md5(g::text)) FROM generate_series(1, 20000) g;
SQL
}

# dump_clean FILE: a dump without the random \restrict lines of pg_dumpall >= 15.14, for comparison
dump_clean() { grep -v -E '^\\(un)?restrict ' "$1"; }
