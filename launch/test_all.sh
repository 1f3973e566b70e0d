#!/usr/bin/env bash
# Installs the dependencies, builds everything and runs every test.
# This is the README's test command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/install_deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release ${SPACEBYTE_CMAKE_ARGS:-}
cmake --build build --parallel "$(nproc)"
ctest --test-dir build --output-on-failure --parallel 2 --timeout 600
