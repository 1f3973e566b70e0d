#include "kernels/cpu_threads.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

namespace spacebyte::trainer {

namespace {

// Looked up at run time: a LibTorch on MKL or another BLAS has no such
// functions, and LibTorch itself sets MKL's threads.
using SetThreads = void (*)(int);
using GetThreads = int (*)();

SetThreads OpenBlasSetThreads() {
  static const auto set =
      reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  return set;
}

GetThreads OpenBlasGetThreads() {
  static const auto get =
      reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  return get;
}

}  // namespace

void SetCpuThreads(int threads) {
  at::set_num_threads(threads);
  if (SetThreads set = OpenBlasSetThreads()) set(threads);
}

SerialBlasScope::SerialBlasScope() {
  if (OpenBlasSetThreads() == nullptr || OpenBlasGetThreads() == nullptr) return;
  previous_ = OpenBlasGetThreads()();
  if (previous_ > 1) OpenBlasSetThreads()(1);
}

SerialBlasScope::~SerialBlasScope() {
  if (previous_ > 1) OpenBlasSetThreads()(previous_);
}

void ReexecWithPassiveWaiting(char** argv) {
  bool changed = false;
  if (getenv("OMP_WAIT_POLICY") == nullptr && getenv("GOMP_SPINCOUNT") == nullptr) {
    setenv("OMP_WAIT_POLICY", "PASSIVE", /*overwrite=*/0);
    changed = true;
  }
  if (getenv("OPENBLAS_THREAD_TIMEOUT") == nullptr) {
    setenv("OPENBLAS_THREAD_TIMEOUT", "4", /*overwrite=*/0);
    changed = true;
  }
  if (changed) execv("/proc/self/exe", argv);
}

}  // namespace spacebyte::trainer
