#!/usr/bin/env bash
# Usage: launch/gpu_check.sh DEPS_DIR OUT_DIR
#
# The GPU check, on a fresh offline GPU node with PyTorch (CUDA), a compiler
# and CMake: DEPS_DIR is what launch/offline_deps.sh gathered on a Debian
# machine. Unpacks it without root, builds the program and the GPU tests
# against the installed PyTorch's LibTorch with every core, then, most
# telling first: runs our CUDA kernels' tests, benchmarks the 1e19 preset
# (a profile and a trace at micro-batch 16), the compiled PyTorch baseline on
# the same card, 20 bf16 CUDA steps against 20 CPU fp32 steps, the
# gpu-labelled tests, the ablations (chunked attention, unfused kernels),
# a tiny CUDA training run through NCCL with eval and sample, the 1e18
# preset and the eager baseline. Writes OUT_DIR/summary.json and summary.md
# after every stage; each stage's log is OUT_DIR/STAGE.log, and a failed
# stage does not stop the later ones. About 10 minutes on 16 cores and one
# H100 by our estimate.
#
# SPACEBYTE_GPU_STAGES (space-separated names) runs a subset.
# SPACEBYTE_GPU_BUDGET (seconds) fits the check into a lease: a stage that
# would not fit in what is left is skipped (and says so in the summary), and
# every command's time limit is cut to what is left.
set -uo pipefail
cd "$(dirname "$0")/.."
deps=$(cd "${1:?usage: gpu_check.sh DEPS_DIR OUT_DIR}" && pwd)
mkdir -p "${2:?usage: gpu_check.sh DEPS_DIR OUT_DIR}"
out=$(cd "$2" && pwd)
work=${SPACEBYTE_GPU_WORK:-/tmp/spacebyte_gpu}
build=${SPACEBYTE_GPU_BUILD:-build-gpu}
python=${SPACEBYTE_PYTHON:-python3}
all_stages="env build kernels bench baseline precision tests ablation train small eager"
stages=${SPACEBYTE_GPU_STAGES:-$all_stages}
budget=${SPACEBYTE_GPU_BUDGET:-0}
mkdir -p "$work"
t0=$(date +%s)
declare -A result seconds

summary() {
  "$python" launch/gpu_summary.py "$out" "$(date +%s)" "$t0" \
    "$(for s in $stages; do echo "$s=${result[$s]:-not run}=${seconds[$s]:-0}"; done)"
}

# Seconds left of SPACEBYTE_GPU_BUDGET (a large number without one).
left() {
  if [ "$budget" -gt 0 ]; then echo $((budget - ($(date +%s) - t0))); else echo 100000; fi
}

# cap S: a command's time limit, S seconds or what is left less a margin for
# the summary, whichever is less.
cap() {
  local l=$(($(left) - 10))
  [ "$l" -lt "$1" ] && echo $((l > 1 ? l : 1)) || echo "$1"
}

# stage NAME NEED: runs stage_NAME, logging to OUT/NAME.log, unless fewer
# than NEED seconds of the budget are left.
stage() {
  local name=$1 need=$2 start rc
  [[ " $stages " == *" $name "* ]] || return 0
  start=$(date +%s)
  if [ "$(left)" -lt "$need" ]; then
    result[$name]="skipped ($(left) s left, needs $need)"
    echo "[$((start - t0))s] $name: ${result[$name]}"
    summary > /dev/null 2>&1
    return 0
  fi
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

# The program and the test binaries with CUDA code paths: all the check runs.
gpu_targets="spacebyte precision_mpi_test nccl_collectives_test attention_kernels_test \
norm_rope_test linear_relu_test batch_upload_test layers_test"

stage_build() {
  # shellcheck disable=SC2086
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DSPACEBYTE_LIBTORCH=pytorch -DSPACEBYTE_PYTHON="$python" -DSPACEBYTE_CUDA=ON \
    -DTORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-9.0}" $SPACEBYTE_OFFLINE_CMAKE_ARGS &&
    timeout "$(cap 600)" cmake --build "$build" --parallel "$(nproc)" --target $gpu_targets -- -k 0
}

# Our own CUDA kernels and the private flash-attention entry, against the
# CPU loops and the dense mask: the code no CPU machine has run.
# A test that fails reruns its CUDA cases under compute-sanitizer, whose
# report (the kernel, the thread and the address of a bad access) is what a
# fix made later without a GPU needs.
stage_kernels() {
  local rc=0 t sanitizer
  sanitizer=$(command -v compute-sanitizer || echo "${CUDA_HOME:-/usr/local/cuda}/bin/compute-sanitizer")
  for t in norm_rope_test linear_relu_test attention_kernels_test batch_upload_test layers_test; do
    timeout "$(cap 60)" "$build/bin/$t" && continue
    rc=1
    if [ -x "$sanitizer" ]; then
      echo "== $t under compute-sanitizer"
      timeout "$(cap 90)" "$sanitizer" --tool memcheck --print-limit 20 "$build/bin/$t" \
        --gtest_filter='*Cuda*'
    fi
  done
  return $rc
}

# bench_NAME.json: one JSON line per run. `bench PRESET MICRO STEPS LIMIT
# NAME [ARGS...]`, with environment overrides passed through mpirun -x.
bench() {
  local preset=$1 micro=$2 steps=$3 limit=$4 name=$5 x=()
  shift 5
  for v in SPACEBYTE_FLASH_WINDOW SPACEBYTE_FUSED_NORM_ROPE SPACEBYTE_FUSED_LINEAR_RELU \
      SPACEBYTE_FUSED_ADD_NORM; do
    [ -n "${!v:-}" ] && x+=(-x "$v")
  done
  echo "== $name"
  timeout "$(cap "$limit")" "${mpirun_1[@]}" "${x[@]}" "$bin" bench \
    --config "launch/configs/$preset.textproto" --steps "$steps" --set train.device=cuda \
    --set train.batch_size=64 --set train.micro_batch_size="$micro" "$@" > "$out/bench_$name.json"
}

# Our CUDA kernels off, then FlashAttention's window too: a kernel that
# faults ends its process (the context is lost, check and all), so the
# headline falls back to these rather than to nothing.
kernels_off="SPACEBYTE_FUSED_NORM_ROPE=0 SPACEBYTE_FUSED_ADD_NORM=0 SPACEBYTE_FUSED_LINEAR_RELU=0"
fallback_env=("" "$kernels_off" "$kernels_off SPACEBYTE_FLASH_WINDOW=0")
fallback_name=("" _unfused _unfused_chunked)

# bench_with "VAR=0 ..." ARGS...: bench with those variables set.
bench_with() {
  local settings=$1
  shift
  # shellcheck disable=SC2086,SC2163  # the words of $settings are the assignments
  (if [ -n "$settings" ]; then export $settings; fi; bench "$@")
}

has_row() { grep -qs '^{' "$out/bench_$1.json"; }

# The headline: the 1e19 shapes at micro-batch 8, and at 16 with a
# synchronized per-phase profile (bench.log), the step's largest GPU kernels
# and its Chrome trace (trace_spacebyte_1e19_mb16*/), both with the first
# of fallback_env whose micro-batch 8 run passes. Fails if that is not the
# first: the summary then holds the fallback's figures.
stage_bench() {
  local i
  for i in 0 1 2; do
    local name=${fallback_name[$i]} settings=${fallback_env[$i]}
    if bench_with "$settings" spacebyte_1e19 8 5 90 "spacebyte_1e19_mb8$name"; then
      bench_with "$settings" spacebyte_1e19 16 3 100 "spacebyte_1e19_mb16$name" --profile \
        --trace "$out/trace_spacebyte_1e19_mb16$name"
      [ "$i" = 0 ] && return 0
      echo "gpu_check: the 1e19 step failed until: $settings"
      return 2
    fi
  done
  return 1
}

# The reference's way on a GPU: bf16 autocast, fused AdamW, flash with a
# window, torch.compile; one traced step for its largest kernels.
baseline() {
  timeout "$(cap "$2")" "$python" launch/pytorch_baseline.py --device cuda --mode "$1" \
    --config launch/configs/spacebyte_1e19.textproto --batch 64 --micro_batch 8 \
    --steps 5 --warmup 2 --trace "$out/trace_baseline_$1" > "$out/baseline_spacebyte_1e19_$1.json"
}
stage_baseline() { baseline compile 180; }
stage_eager() { baseline eager 90; }

stage_precision() {
  local data=$work/udhr_data
  prep_udhr || return 1
  for d in "cpu fp32" "cuda bf16"; do
    set -- $d
    rm -rf "$work/precision_$1"
    timeout "$(cap 60)" "${mpirun_1[@]}" "$bin" train --config launch/configs/tiny.textproto \
      --run_dir "$work/precision_$1" --set data.path="$data" --set train.device="$1" \
      --set train.precision="$2" --set model.rope=true --set train.steps=20 \
      --set train.log_interval=1 --set train.eval_interval=0 --set checkpoint.interval=0 || return 1
    cp "$work/precision_$1/metrics.jsonl" "$out/precision_$1_$2.jsonl"
  done
}

stage_tests() {
  ctest --test-dir "$build" -L gpu --output-on-failure --timeout "$(cap 120)"
}

# What the flash window and our fused kernels (norms with RoPE, residual
# adds in the pre-norms, ReLU in the product's epilogue) are worth: the
# same step with each turned off, at micro-batch 8 (the chunked path at 16
# held 79.5 GB on an H200: over an H100's 80). A run the bench stage's
# fallback already made is not repeated.
stage_ablation() {
  local rc=0
  has_row spacebyte_1e19_mb8_unfused ||
    bench_with "$kernels_off" spacebyte_1e19 8 3 75 spacebyte_1e19_mb8_unfused || rc=1
  bench_with SPACEBYTE_FLASH_WINDOW=0 spacebyte_1e19 8 3 75 spacebyte_1e19_mb8_chunked || rc=1
  return $rc
}

prep_udhr() {
  [ -f "$work/udhr_data/manifest.pbtxt" ] || "$bin" prep --input data/corpus/udhr \
    --language_from '([a-z]+)\.txt$' --separator blank --out "$work/udhr_data"
}

stage_train() {
  local run=$work/tiny_cuda data=$work/udhr_data
  rm -rf "$run"
  prep_udhr || return 1
  timeout "$(cap 120)" "${mpirun_1[@]}" "$bin" train --config launch/configs/tiny.textproto \
    --run_dir "$run" --set data.path="$data" --set train.device=cuda --set train.steps=200 \
    --set train.eval_interval=100 || return 1
  cp "$run/metrics.jsonl" "$out/tiny_cuda_metrics.jsonl"
  # bf16 (the default on CUDA, as training ran), then fp32: how far apart.
  timeout "$(cap 60)" "${mpirun_1[@]}" "$bin" eval --checkpoint "$run" --data "$data" --split test \
    --device cuda > "$out/tiny_cuda_eval.json" || return 1
  timeout "$(cap 60)" "${mpirun_1[@]}" "$bin" eval --checkpoint "$run" --data "$data" --split test \
    --device cuda --precision fp32 > "$out/tiny_cuda_eval_fp32.json" || return 1
  timeout "$(cap 30)" "$bin" sample --checkpoint "$run" --prompt "Article 1. " --max_bytes 120 \
    --device cuda --seed 1 > "$out/tiny_cuda_sample.txt"
}

# The smaller preset, for how the step scales; at micro-batch 8 also
# evaluation's forward passes in bf16 and in fp32.
stage_small() {
  local ok=0
  bench spacebyte_1e18 8 5 60 spacebyte_1e18_mb8 --eval && ok=1
  bench spacebyte_1e18 16 5 60 spacebyte_1e18_mb16 && ok=1
  [ $ok = 1 ]
}

# Most telling first, so a check cut short by its budget keeps the figures
# that matter. The second number is the least time worth starting a stage
# with.
stage env 5
stage build 60
stage kernels 20
stage bench 60
stage baseline 90
stage precision 30
stage tests 30
stage ablation 60
stage train 60
stage small 45
stage eager 45
summary
echo "[$(($(date +%s) - t0))s] done: $out/summary.md"
