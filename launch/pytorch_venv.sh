#!/usr/bin/env bash
# Usage: launch/pytorch_venv.sh DIR [cuda]
#
# A virtual environment in DIR holding PyTorch 2.11 from PyPI, for building
# against its LibTorch (cmake -DSPACEBYTE_LIBTORCH=pytorch
# -DSPACEBYTE_PYTHON=DIR/bin/python). Only what a build needs: the wheel
# without its Python dependencies (the build reads headers, libraries and
# CMake files, and never imports torch). With `cuda`, also the three CUDA
# libraries that libtorch_cuda links against and /usr/local/cuda lacks, so
# the CUDA build links on a machine without a GPU. Kept between runs.
set -euo pipefail
dir=${1:?usage: pytorch_venv.sh DIR [cuda]}
torch_version=2.11.0
cuda_libs=(nvidia-cusparselt-cu13==0.8.0 nvidia-nvshmem-cu13==3.4.5 nvidia-cufile==1.20.0.107)

[ -x "$dir/bin/python" ] || python3 -m venv "$dir"
pip=("$dir/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps)
if ! "$dir/bin/python" -c "import importlib.metadata as m; assert m.version('torch').startswith('$torch_version')" 2>/dev/null; then
  "${pip[@]}" "torch==$torch_version"
fi
if [ "${2:-}" = cuda ]; then
  for lib in "${cuda_libs[@]}"; do
    "$dir/bin/python" -c "import importlib.metadata as m; m.version('${lib%%==*}')" 2>/dev/null \
      || "${pip[@]}" "$lib"
  done
fi
