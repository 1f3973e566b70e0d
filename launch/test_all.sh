#!/usr/bin/env bash
# Installs the dependencies, then builds and tests every leg:
#   debian         Debian's LibTorch 1.13 (CPU): the whole suite
#   fuzz           the file readers under libFuzzer (clang, ASan, UBSan), 20 s
#                  each from the seeds in tests/fuzz/seeds; no LibTorch
#   pytorch        PyTorch 2.11's LibTorch from PyPI, CPU: the whole suite but
#                  the SLURM preemption test (3 minutes, most of it SLURM's
#                  requeue delay; nothing in it depends on LibTorch)
#   pytorch-cuda   the CUDA build (-DSPACEBYTE_CUDA=ON) against PyTorch 2.11's
#                  CUDA LibTorch and /usr/local/cuda's toolkit and NCCL:
#                  the program and the test binaries with CUDA code paths
#                  compiled and linked; its gpu-labelled tests run (their
#                  CUDA cases skip without a GPU). Only where NCCL is present.
# and ends with one line per leg, then the totals. SPACEBYTE_LEGS picks legs;
# SPACEBYTE_CMAKE_ARGS adds cmake arguments to every leg. The README's test
# command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/install_deps.sh

have_nccl=no
{ [ -f /usr/local/cuda/include/nccl.h ] || [ -f /usr/include/nccl.h ]; } && have_nccl=yes
default_legs="debian fuzz pytorch"
[ $have_nccl = yes ] && default_legs="$default_legs pytorch-cuda"
legs=${SPACEBYTE_LEGS:-$default_legs}
venv=${SPACEBYTE_TORCH_VENV:-.venv-torch}
tb_venv=${SPACEBYTE_TENSORBOARD_VENV:-.venv-tensorboard}
bash launch/tensorboard_venv.sh "$tb_venv"
tb_python=-DSPACEBYTE_TENSORBOARD_PYTHON=$(realpath "$tb_venv")/bin/python
summary=()
total_passed=0 total_failed=0

# run_leg NAME BUILD_DIR CTEST_ARGS CMAKE_ARGS...
run_leg() {
  local name=$1 dir=$2 ctest_args=$3 passed=0 failed=0 cuda=no log
  shift 3
  log=$(mktemp)
  echo "=== leg $name: cmake $*"
  if cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" ${SPACEBYTE_CMAKE_ARGS:-} &&
     cmake --build "$dir" --parallel "$(nproc)" ${build_targets:+--target $build_targets}; then
    grep -q "SPACEBYTE_CUDA:BOOL=ON" "$dir/CMakeCache.txt" && cuda=compiled
    # shellcheck disable=SC2086
    ctest --test-dir "$dir" --output-on-failure --parallel 2 --timeout 600 $ctest_args \
      2>&1 | tee "$log" || true
    local total fail skipped
    total=$(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -1)
    fail=$(sed -n 's/.* \([0-9]*\) tests failed out of.*/\1/p' "$log" | tail -1)
    skipped=$(grep -c '(Skipped)' "$log" || true)
    if [ -n "$total" ]; then
      failed=$fail
      passed=$((total - fail - skipped))
    else
      failed=1  # ctest ran nothing or did not finish
    fi
  else
    failed=1  # the build failed
  fi
  rm -f "$log"
  summary+=("leg $name: $passed passed, $failed failed, libtorch $(cat "$dir/libtorch_version.txt" 2>/dev/null || echo unknown), cuda $cuda")
  total_passed=$((total_passed + passed))
  total_failed=$((total_failed + failed))
}

for leg in $legs; do
  case $leg in
    debian) run_leg debian build "" "$tb_python" ;;
    fuzz)
      run_leg fuzz build-fuzz "-L fuzz" \
        -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DSPACEBYTE_FUZZ=ON ;;
    pytorch)
      bash launch/pytorch_venv.sh "$venv"
      run_leg pytorch build-pytorch "-LE slurm" "$tb_python" \
        -DSPACEBYTE_LIBTORCH=pytorch -DSPACEBYTE_PYTHON="$(realpath "$venv")/bin/python" ;;
    pytorch-cuda)
      bash launch/pytorch_venv.sh "$venv" cuda
      # The program and the binaries with CUDA code paths; the rest are the
      # pytorch leg's sources again, and building them took 4 of CI's minutes.
      build_targets="spacebyte precision_mpi_test nccl_collectives_test attention_kernels_test
        norm_rope_test linear_relu_test batch_upload_test layers_test" run_leg pytorch-cuda build-pytorch-cuda "-L gpu" \
        -DSPACEBYTE_LIBTORCH=pytorch -DSPACEBYTE_PYTHON="$(realpath "$venv")/bin/python" -DSPACEBYTE_CUDA=ON ;;
    *) echo "unknown leg $leg (debian | fuzz | pytorch | pytorch-cuda)"; exit 2 ;;
  esac
done

# The per-leg lines come last: what CI and users read.
echo "all legs: $total_passed passed, $total_failed failed"
printf '%s\n' "${summary[@]}"
[ "$total_failed" -eq 0 ]
