# Steered writer processes (tests/lib/writer.py): each holds one descriptor that a test writes,
# closes, exits or kills at the moment it wants. Use after common.sh.
# Each sets W_ANS (never call them in $(...): the writer must be this shell's child):
#   w_start NAME PATH trunc|append|keep   the open's answer ("ok" or "err EBUSY")
#   w_do NAME COMMAND...                  the command's answer (see writer.py)
#   w_exit NAME CODE                      exits holding the descriptor; its exit status
#   w_kill NAME SIGNAL                    killed, and waited for; its exit status
declare -A W_FD W_PID W_SEEN

# the answer number n of writer NAME, waited for (60 s: a close may commit a big file)
w_answer() {
	local name=$1 n=$2 out=$T_DIR/w-$1.out
	for _ in $(seq 600); do
		if [ "$(wc -l <"$out")" -ge "$n" ]; then
			sed -n "${n}p" "$out"
			return 0
		fi
		kill -0 "${W_PID[$name]}" 2>/dev/null || { sed -n "${n}p" "$out"; return 0; }
		sleep 0.1
	done
	echo "timeout"
}

w_start() {
	local name=$1 path=$2 how=$3 fd
	mkfifo "$T_DIR/w-$name.in"
	: >"$T_DIR/w-$name.out"
	python3 "$SNAPFS_SRC/tests/lib/writer.py" "$path" "$how" <"$T_DIR/w-$name.in" >"$T_DIR/w-$name.out" 2>"$T_DIR/w-$name.err" &
	W_PID[$name]=$!
	T_PIDS+=("$!")
	exec {fd}>"$T_DIR/w-$name.in"
	W_FD[$name]=$fd
	W_SEEN[$name]=1
	W_ANS=$(w_answer "$name" 1)
}

w_do() {
	local name=$1; shift
	echo "$*" >&"${W_FD[$name]}"
	W_SEEN[$name]=$((W_SEEN[$name] + 1))
	W_ANS=$(w_answer "$name" "${W_SEEN[$name]}")
}

w_exit() {
	local name=$1 code=$2 fd=${W_FD[$1]}
	echo "exit $code" >&"$fd"
	W_ANS=0
	wait "${W_PID[$name]}" || W_ANS=$?
	exec {fd}>&-
}

w_kill() {
	local name=$1 sig=$2 fd=${W_FD[$1]}
	kill -"$sig" "${W_PID[$name]}"
	W_ANS=0
	wait "${W_PID[$name]}" || W_ANS=$?
	exec {fd}>&-
}

# w_dying_writers DIR LOG: a writer killed by SIGKILL or SIGINT, or exiting 1 holding its descriptor,
# publishes nothing (the previous version stays, LOG says why); one exiting 0 publishes whole. The
# caller defines holds NAME CONTENT, absent NAME and size_is NAME BYTES over its store.
w_dying_writers() {
	local dir=$1 log=$2 rc
	echo "v1" >"$dir/killed.bin"
	set +e
	timeout -s KILL 2 sh -c "cat /dev/urandom > '$dir/killed.bin'"
	rc=$?
	set -e
	check "SIGKILLed writer: exit status 137" test "$rc" -eq 137
	check "SIGKILLed writer: the previous version stays" eventually holds killed.bin v1
	check "SIGKILLed writer: the log names the signal" eventually grep -q "killed.bin: NOT stored: its writer (pid [0-9]*) was killed by signal 9" "$log"

	w_start ex1 "$dir/exit1.bin" trunc
	w_do ex1 write 9000000
	w_exit ex1 1
	check "writer exiting 1 holding the descriptor: exit status 1" test "$W_ANS" -eq 1
	check "writer exiting 1: no object" eventually absent exit1.bin
	check "writer exiting 1: the log says why" eventually grep -q "exit1.bin: NOT stored: its writer (pid [0-9]*) exited with status 1" "$log"

	w_start ex0 "$dir/exit0.bin" trunc
	w_do ex0 write 9000000
	w_exit ex0 0
	check "writer exiting 0 holding the descriptor: published whole" eventually size_is exit0.bin 9000000

	w_start sigint "$dir/sigint.bin" trunc
	w_do sigint write 5000000
	w_kill sigint INT
	check "SIGINTed writer: no object" eventually absent sigint.bin
}

# w_redirect_fails DIR STORE: `pg_dumpall > DIR/dumpfile.sql` into a mount whose store has no room
# (STORE: the same folder in the file:// volume) exits non-zero, says it could not write, and leaves
# no object. The caller runs PostgreSQL with more to dump than the store holds.
w_redirect_fails() {
	local dir=$1 store=$2 rc
	set +e
	sh -c "pg_dumpall > '$dir/dumpfile.sql'" 2>"$T_DIR/pgdumpall.err"
	rc=$?
	set -e
	check "pg_dumpall > f, store full: non-zero exit status" test "$rc" -ne 0
	check "pg_dumpall > f, store full: it says it could not write" grep -q "could not write" "$T_DIR/pgdumpall.err"
	check "pg_dumpall > f, store full: no object" test ! -e "$store/dumpfile.sql"
}
