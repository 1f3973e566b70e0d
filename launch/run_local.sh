#!/usr/bin/env bash
# N ranks on this machine:
#
#   launch/run_local.sh N -- spacebyte train --config launch/configs/tiny.textproto --run_dir runs/x
#
# Each rank gets cores / N intra-op threads. The trainer takes them from
# `train.threads` (config or --set train.threads=K), which defaults to exactly
# cores / ranks-on-this-node; this script exports the same number as
# OMP_NUM_THREADS and OPENBLAS_NUM_THREADS for the OpenMP and OpenBLAS pools
# that LibTorch does not size itself. Set them beforehand to override.
# Ranks are not bound to cores (--bind-to none), so each rank's threads may
# use any core. Extra mpirun flags: SPACEBYTE_MPIRUN_ARGS="...".
set -euo pipefail
# shellcheck source=launch/common.sh
source "$(dirname "$0")/common.sh"
parse_launch_args "run_local.sh N -- COMMAND [ARGS...]" "$@"

cores=$(nproc)
threads=$((cores / RANKS))
((threads >= 1)) || threads=1
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$threads}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-$OMP_NUM_THREADS}

mpirun_base
echo "run_local: $RANKS ranks on $cores cores, $OMP_NUM_THREADS threads each" >&2
exec "${MPIRUN[@]}" --bind-to none -np "$RANKS" "${COMMAND[@]}"
