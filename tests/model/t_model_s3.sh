#!/usr/bin/env bash
# Stateful, model-based test of "whole or absent, never silent" on an S3 store (Ceph RGW, which checks
# signatures and the multipart rules): random steps (tests/model/model.py) against a real mount, each
# checked against a reference model in the mount and in the bucket itself, read through the S3 API
# (boto3), not through snapfs. MODEL_SEED, MODEL_TIME
# (seconds of steps), MODEL_ARGS (extra driver options) change the run; tools/model_sweep.sh runs many.
source "$(dirname "$0")/../lib/common.sh"
source "$SNAPFS_SRC/tests/lib/rgw.sh"

SEED=${MODEL_SEED:-1}
TIME=${MODEL_TIME:-45}
# memstore keeps what RGW's garbage collector has not reclaimed yet (replaced objects, parts): about
# 2 bytes of RAM a byte, for the run's --max-data
start_rgw mem=2048
rgw_mkbucket kubedb
MNT=$T_DIR/mnt
mkdir -p "$MNT"
T_MOUNTS+=("$MNT")   # the driver mounts (and remounts after kill -9); the trap unmounts what is left

# shellcheck disable=SC2086
check "model: s3 seed $SEED, ${TIME}s of random steps, every rule holds" \
	python3 "$SNAPFS_SRC/tests/model/model.py" --mount "$MNT" --pid-file "$T_DIR/snapfs-mnt.pid" \
	--s3-endpoint "$S3_ENDPOINT" --s3-bucket kubedb --secret-dir "$S3_SECRET" \
	--seed "$SEED" --time "$TIME" --max-data $((300 << 20)) --minimize "${MODEL_MINIMIZE:-30}" \
	--save "$T_DIR/model-failure.json" ${MODEL_ARGS:-} -- \
	"$SNAPFS" s3://kubedb "$MNT" --secret-dir "$S3_SECRET" --endpoint "$S3_ENDPOINT" \
	--log-file "$T_DIR/snapfs-mnt.log" --pid-file "$T_DIR/snapfs-mnt.pid" --cache-dir "$T_DIR/cache" --part-size 5M
# a writer that died, a failed session, a daemon killed and remounted: none may leave an upload open
check "no multipart upload left open in the bucket" no_open_uploads kubedb
finish
