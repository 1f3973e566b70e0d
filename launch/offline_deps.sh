#!/usr/bin/env bash
# Usage: launch/offline_deps.sh DIR
#
# On any Debian 12 machine with apt: downloads into DIR the Debian packages
# our build needs besides LibTorch (protobuf, abseil, Open MPI, GoogleTest,
# ISA-L, JSON, OpenBLAS, ICU) with the libraries they load, for a GPU node that has
# PyTorch, a compiler and CMake but no apt or internet. Copy DIR there and run
# launch/gpu_check.sh DIR OUT (or launch/offline_build.sh DIR) without root.
set -euo pipefail
dir=${1:?usage: offline_deps.sh DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

# Named one by one (a recursive apt-cache closure drags in Fortran compilers
# and LLVM: 320 MiB). The libraries are what `ldd` shows our program,
# protoc, mpirun, orted and Open MPI's plugins load, less what every node
# has (the C and C++ runtimes, libudev).
packages=(
  # protobuf: headers, libraries, protoc
  libprotobuf-dev libprotobuf32 libprotobuf-lite32 libprotoc32 protobuf-compiler
  # abseil
  libabsl-dev libabsl20220623
  # Open MPI 4.1 and what it loads
  libopenmpi-dev libopenmpi3 openmpi-bin openmpi-common
  libhwloc15 libevent-core-2.1-7 libevent-pthreads-2.1-7 libpmix2 libfabric1
  libucx0 libibverbs1 ibverbs-providers librdmacm1 libnl-3-200 libnl-route-3-200
  libpsm2-2 libpsm-infinipath1 libmunge2 libnuma1 libltdl7
  # tests
  libgtest-dev libgmock-dev
  # CRC32C, JSON, CBLAS (header from libblas-dev, OpenBLAS at run time)
  libisal-dev libisal2 nlohmann-json3-dev libsimdjson-dev libsimdjson14
  libblas-dev libopenblas0-pthread
  libgfortran5 libquadmath0
  # Unicode categories and scripts (the multilingual patch rule)
  libicu-dev libicu72
  # gzip, zstd and xz inputs to prep: the headers, and the libraries too, as
  # the -dev packages' libz.so and the like link to them inside the prefix
  zlib1g-dev libzstd-dev liblzma-dev zlib1g libzstd1 liblzma5
  ninja-build
)
cd "$dir"
rm -f ./*.deb
apt-get download "${packages[@]}" >/dev/null 2>&1 \
  || apt-get download "${packages[@]}"
size=$(du -sm "$dir" | cut -f1)
echo "offline_deps: ${#packages[@]} packages, ${size} MiB in $dir"
