#!/usr/bin/env bash
# Run the model-based publishing test (tests/model) over many seeds, for longer than CI does.
# Usage: tools/model_sweep.sh [-s file|s3|both] [-n SEEDS] [-f FIRST_SEED] [-t SECONDS_PER_SEED]
#                             [-m MINIMIZE_SECONDS] [-x STEP_KINDS_TO_EXCLUDE]
# Run from the project root after building into build/ (or set SNAPFS_BUILD). Prints one line per
# seed and a summary of the rules broken; each failing seed's log folder (with model-failure.json, the
# full and the minimized step sequence) is kept and named.
set -uo pipefail
cd "$(dirname "$0")/.."
stores=both n=20 first=1 secs=120 minimize=120 exclude=
while getopts "s:n:f:t:m:x:h" o; do
	case $o in
	s) stores=$OPTARG ;;
	n) n=$OPTARG ;;
	f) first=$OPTARG ;;
	t) secs=$OPTARG ;;
	m) minimize=$OPTARG ;;
	x) exclude=$OPTARG ;;
	*) sed -n '2,7p' "$0"; exit 2 ;;
	esac
done
case $stores in
file | s3) stores=($stores) ;;
both) stores=(file s3) ;;
*) echo "model_sweep: -s takes file, s3 or both, not '$stores'" >&2; exit 2 ;;
esac
fails=0 runs=0
summary=()
for ((seed = first; seed < first + n; seed++)); do
	for st in "${stores[@]}"; do
		runs=$((runs + 1))
		out=$(MODEL_SEED=$seed MODEL_TIME=$secs MODEL_MINIMIZE=$minimize \
			MODEL_ARGS="${exclude:+--exclude $exclude}" bash "tests/model/t_model_$st.sh" 2>&1)
		rc=$?
		line=$(grep -m1 '^model: seed' <<<"$out")
		echo "$st seed $seed: ${line#model: seed $seed: }"
		if [ "$rc" -ne 0 ]; then
			fails=$((fails + 1))
			kept=$(grep -o 'logs kept in [^ ]*' <<<"$out" | head -n 1)
			summary+=("$st seed $seed: $(grep -o 'R[0-9]: .*' <<<"$line" | cut -c1-160) (${kept:-no log folder})")
			# the shortest sequence found that still breaks the rule
			sed -n '/^model: minimized/,/^\(not \)\?ok /p' <<<"$out" | grep '^ ' | head -n 40
		fi
	done
done
echo "model_sweep: $runs runs, $fails failed"
for s in "${summary[@]}"; do echo "  $s"; done
[ "$fails" -eq 0 ]
