#!/usr/bin/env bash
# Our bytes/s against an eager PyTorch SpaceByte on the same machine, in one
# run (a benchmark that prints figures, not a test):
#   bash launch/bench_side_by_side.sh [--rounds N] [CONFIG:STEPS ...]
# Installs Debian's python3-torch (the same LibTorch 1.13) if it is missing,
# builds `spacebyte` if needed, checks that the baseline reproduces the golden
# files, then prints a markdown table (see docs/benchmarks.md).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get install -y --no-install-recommends python3-torch
fi
if [ ! -x build/bin/spacebyte ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
  cmake --build build --parallel "$(nproc)" --target spacebyte
fi
exec /usr/bin/python3 launch/bench_side_by_side.py "$@"
