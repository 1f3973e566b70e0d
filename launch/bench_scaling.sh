#!/usr/bin/env bash
# Weak scaling and gradient all-reduce share on the tiny CPU config (a
# benchmark that prints figures, not a test):
#   bash launch/bench_scaling.sh [CONFIG] [STEPS]
# Runs `spacebyte bench` on 1 rank and on 2 data-parallel ranks, one intra-op
# thread per rank and the same per-rank batch (so the global batch doubles),
# and prints one JSON line: per-rank throughput at 2 ranks over 1 rank
# (weak-scaling efficiency), and the share of a 2-rank step one blocking
# all-reduce of the whole gradient takes at the default bucket size.
# Needs 2 free cores to mean anything.
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:-launch/configs/tiny.textproto}
steps=${2:-20}
bin=build/bin/spacebyte
batch=$(sed -n 's/^ *batch_size: *\([0-9]*\).*/\1/p' "$config" | head -1)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

field() {  # field NAME JSON
  sed -n "s/.*\"$1\":\([-0-9.eE+]*\).*/\1/p" <<<"$2"
}

one=$("$bin" bench --config "$config" --steps "$steps" --set train.threads=1)
two=$(mpirun --oversubscribe -np 2 "$bin" bench --config "$config" --steps "$steps" \
        --set train.threads=1 --set "train.batch_size=$((2 * batch))")
echo "1 rank:  $one" >&2
echo "2 ranks: $two" >&2
awk -v one="$(field bytes_per_s "$one")" -v two="$(field bytes_per_s "$two")" \
    -v share="$(field grad_allreduce_share "$two")" \
    -v allreduce="$(field grad_allreduce_s "$two")" -v step="$(field step_s "$two")" \
    'BEGIN { printf "{\"bytes_per_s_1_rank\":%.0f,\"bytes_per_s_per_rank_2_ranks\":%.0f," \
                    "\"weak_scaling_efficiency\":%.3f,\"step_s_2_ranks\":%.4f," \
                    "\"grad_allreduce_s\":%.5f,\"grad_allreduce_share\":%.4f}\n",
                    one, two / 2, two / 2 / one, step, allreduce, share }'
