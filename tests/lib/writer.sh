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
