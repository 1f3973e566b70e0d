#!/usr/bin/env bash
# Usage: launch/gpu_check.sh DEPS_DIR OUT_DIR
#
# The GPU check, on a fresh offline GPU node with PyTorch (CUDA), a compiler
# and CMake: DEPS_DIR is what launch/offline_deps.sh gathered on a Debian
# machine. Unpacks it without root, builds against the installed PyTorch's
# LibTorch with every core, runs the gpu-labelled tests, trains the tiny
# preset on CUDA through NCCL (with eval and sample on the GPU), compares 20
# bf16 CUDA steps with 20 CPU fp32 steps, benchmarks the GPU presets and the
# PyTorch baseline on the same card, and writes OUT_DIR/summary.json and
# summary.md. Each stage's log is OUT_DIR/STAGE.log; a failed stage does not
# stop the later ones. About 8 minutes on 16 cores and one H100.
# SPACEBYTE_GPU_STAGES (space-separated names) runs a subset.
set -uo pipefail
cd "$(dirname "$0")/.."
deps=$(cd "${1:?usage: gpu_check.sh DEPS_DIR OUT_DIR}" && pwd)
mkdir -p "${2:?usage: gpu_check.sh DEPS_DIR OUT_DIR}"
out=$(cd "$2" && pwd)
work=${SPACEBYTE_GPU_WORK:-/tmp/spacebyte_gpu}
build=${SPACEBYTE_GPU_BUILD:-build-gpu}
python=${SPACEBYTE_PYTHON:-python3}
stages=${SPACEBYTE_GPU_STAGES:-env build tests train precision bench baseline}
mkdir -p "$work"
t0=$(date +%s)
declare -A result seconds

summary() {
  "$python" launch/gpu_summary.py "$out" "$(date +%s)" "$t0" \
    "$(for s in $stages; do echo "$s=${result[$s]:-not run}=${seconds[$s]:-0}"; done)"
}

# stage NAME: runs stage_NAME, logging to OUT/NAME.log.
stage() {
  local name=$1 start rc
  [[ " $stages " == *" $name "* ]] || return 0
  start=$(date +%s)
  echo "[$((start - t0))s] $name"
  "stage_$name" > "$out/$name.log" 2>&1
  rc=$?
  seconds[$name]=$(($(date +%s) - start))
  if [ $rc -eq 0 ]; then result[$name]=ok; else
    result[$name]="failed (exit $rc)"
    echo "  $name failed (exit $rc); last lines of $out/$name.log:"
    tail -n 25 "$out/$name.log" | sed 's/^/  | /'
  fi
  summary > /dev/null 2>&1
}

bin=$build/bin/spacebyte
# An array, not a function, so that `timeout` can run it.
mpirun_1=(mpirun --allow-run-as-root --oversubscribe -np 1)

stage_env() {
  uname -a; cat /etc/os-release 2>/dev/null | head -2; nproc; free -g | head -2
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
  "$python" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda,
"available", torch.cuda.is_available(), torch.cuda.get_device_name(0))'
  c++ --version | head -1; cmake --version | head -1; nvcc --version | tail -1
}

# Every stage runs mpirun from the unpacked Open MPI, so the environment is
# set once here, also for a subset of stages that leaves out the build.
# shellcheck source=offline_env.sh
source launch/offline_env.sh "$deps" "$work/prefix" || {
  echo "gpu_check: cannot unpack $deps into $work/prefix"
  exit 1
}

stage_build() {
  # shellcheck disable=SC2086
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DSPACEBYTE_LIBTORCH=pytorch -DSPACEBYTE_PYTHON="$python" -DSPACEBYTE_CUDA=ON \
    -DTORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-9.0}" $SPACEBYTE_OFFLINE_CMAKE_ARGS &&
    cmake --build "$build" --parallel "$(nproc)" -- -k 0
}

stage_tests() {
  ctest --test-dir "$build" -L gpu --output-on-failure --timeout 120 &&
    timeout 60 "$build/bin/batch_upload_test" &&
    timeout 60 "$build/bin/attention_kernels_test" &&
    timeout 60 "$build/bin/norm_rope_test"
}

stage_train() {
  local run=$work/tiny_cuda data=$work/udhr_data
  rm -rf "$run"
  [ -f "$data/manifest.pbtxt" ] || "$bin" prep --input data/corpus/udhr \
    --language_from '([a-z]+)\.txt$' --separator blank --out "$data" || return 1
  timeout 120 "${mpirun_1[@]}" "$bin" train --config launch/configs/tiny.textproto --run_dir "$run" \
    --set data.path="$data" --set train.device=cuda --set train.steps=200 \
    --set train.eval_interval=100 || return 1
  cp "$run/metrics.jsonl" "$out/tiny_cuda_metrics.jsonl"
  timeout 60 "${mpirun_1[@]}" "$bin" eval --checkpoint "$run" --data "$data" --split test --device cuda \
    > "$out/tiny_cuda_eval.json" || return 1
  timeout 30 "$bin" sample --checkpoint "$run" --prompt "Article 1. " --max_bytes 120 --device cuda \
    --seed 1 > "$out/tiny_cuda_sample.txt"
}

stage_precision() {
  local data=$work/udhr_data
  for d in "cpu fp32" "cuda bf16"; do
    set -- $d
    rm -rf "$work/precision_$1"
    timeout 60 "${mpirun_1[@]}" "$bin" train --config launch/configs/tiny.textproto --run_dir "$work/precision_$1" \
      --set data.path="$data" --set train.device="$1" --set train.precision="$2" --set model.rope=true \
      --set train.steps=20 --set train.log_interval=1 --set train.eval_interval=0 \
      --set checkpoint.interval=0 || return 1
    cp "$work/precision_$1/metrics.jsonl" "$out/precision_$1_$2.jsonl"
  done
}

# One JSON line per (config, batch) on stdout of bench_NAME.json; the
# micro-batch 16 runs add a synchronized per-phase profile and the step's
# largest GPU kernels (bench.log), and its Chrome trace (trace_NAME/).
stage_bench() {
  local ok=0
  for preset in spacebyte_1e19 spacebyte_1e18; do
    for micro in 8 16; do
      timeout 90 "${mpirun_1[@]}" "$bin" bench --config "launch/configs/$preset.textproto" --steps 5 \
        --set train.device=cuda --set train.batch_size=64 --set train.micro_batch_size=$micro \
        $([ "$micro" = 16 ] && echo --profile --trace "$out/trace_${preset}_mb$micro") \
        > "$out/bench_${preset}_mb$micro.json" && ok=1
    done
  done
  # The same shapes through the chunked local attention, for a side-by-side
  # at micro-batch 8 (at 16 it held 79.5 GB on an H200: over an H100's 80).
  SPACEBYTE_FLASH_WINDOW=0 timeout 75 "${mpirun_1[@]}" -x SPACEBYTE_FLASH_WINDOW "$bin" bench \
    --config launch/configs/spacebyte_1e19.textproto --steps 5 --set train.device=cuda \
    --set train.batch_size=64 --set train.micro_batch_size=8 \
    > "$out/bench_spacebyte_1e19_mb8_chunked.json" || true
  # And with the Q/K norm and RoPE as separate ops, for the fused kernel's share.
  SPACEBYTE_FUSED_NORM_ROPE=0 timeout 75 "${mpirun_1[@]}" -x SPACEBYTE_FUSED_NORM_ROPE "$bin" bench \
    --config launch/configs/spacebyte_1e19.textproto --steps 3 --set train.device=cuda \
    --set train.batch_size=64 --set train.micro_batch_size=8 \
    > "$out/bench_spacebyte_1e19_mb8_unfused.json" || true
  [ $ok = 1 ]
}

stage_baseline() {
  local ok=0
  for mode in eager compile; do
    timeout $([ $mode = eager ] && echo 90 || echo 180) "$python" launch/pytorch_baseline.py --device cuda --mode $mode \
      --config launch/configs/spacebyte_1e19.textproto --batch 64 --micro_batch 8 \
      --steps 5 --warmup 2 --trace "$out/trace_baseline_$mode" \
      > "$out/baseline_spacebyte_1e19_$mode.json" && ok=1
  done
  [ $ok = 1 ]
}

for s in env build tests train precision bench baseline; do stage "$s"; done
summary
echo "[$(($(date +%s) - t0))s] done: $out/summary.md"
