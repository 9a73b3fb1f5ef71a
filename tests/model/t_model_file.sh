#!/usr/bin/env bash
# Stateful, model-based test of "whole or absent, never silent" on a file:// store: random steps
# (tests/model/model.py) against a real mount, each checked against a reference model in the mount and
# in the store directory itself. MODEL_SEED, MODEL_TIME (seconds of steps), MODEL_ARGS (extra driver
# options) change the run; tools/model_sweep.sh runs many seeds.
source "$(dirname "$0")/../lib/common.sh"

SEED=${MODEL_SEED:-1}
TIME=${MODEL_TIME:-45}
STORE=$T_DIR/store
MNT=$T_DIR/mnt
mkdir -p "$STORE" "$MNT"
T_MOUNTS+=("$MNT")   # the driver mounts (and remounts after kill -9); the trap unmounts what is left

# shellcheck disable=SC2086
check "model: file:// seed $SEED, ${TIME}s of random steps, every rule holds" \
	python3 "$SNAPFS_SRC/tests/model/model.py" --mount "$MNT" --pid-file "$T_DIR/snapfs-mnt.pid" \
	--store-dir "$STORE" --seed "$SEED" --time "$TIME" --minimize "${MODEL_MINIMIZE:-30}" \
	--save "$T_DIR/model-failure.json" ${MODEL_ARGS:-} -- \
	"$SNAPFS" "file://$STORE" "$MNT" --log-file "$T_DIR/snapfs-mnt.log" --pid-file "$T_DIR/snapfs-mnt.pid" \
	--cache-dir "$T_DIR/cache" --part-size 5M
finish
