#!/usr/bin/env bash
# Installs every build and run dependency from Debian packages. Called by the
# README commands, .ci/run and the Dockerfiles, so there is one list to keep.
# SPACEBYTE_SYSTEM_TORCH=0 leaves out Debian's LibTorch (CPU only), for the GPU
# image, which brings its own CUDA LibTorch (docker/Dockerfile.gpu).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libtorch-dev libopenblas0-pthread
  libblas-dev          # cblas.h for the CPU attention kernel
  libopenmpi-dev openmpi-bin
  libprotobuf-dev protobuf-compiler
  libabsl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-dev  # libFuzzer and the sanitizers for the fuzz leg
  libisal-dev          # hardware-accelerated CRC32C (crc32_iscsi)
  nlohmann-json3-dev   # configs, metrics and reports
  libsimdjson-dev      # JSON Lines input to `spacebyte prep`, at GB/s
  zlib1g-dev libzstd-dev liblzma-dev  # gzip, zstd and xz inputs to `spacebyte prep`
  libicu-dev           # Unicode categories and scripts: the multilingual patch rule
  iproute2             # network namespaces for the multi-host test
  slurmctld slurmd slurm-client munge  # a one-node SLURM for the preemption test
  python3 python3-venv # PyTorch's LibTorch for the 2.x builds (launch/pytorch_venv.sh)
)

if [ "${SPACEBYTE_SYSTEM_TORCH:-1}" = 0 ]; then
  packages=("${packages[@]/libtorch-dev/}")
fi

missing=()
for p in "${packages[@]}"; do
  [ -n "$p" ] || continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
