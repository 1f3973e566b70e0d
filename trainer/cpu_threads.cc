#include "trainer/cpu_threads.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

#include <ATen/Parallel.h>

namespace spacebyte::trainer {

void SetCpuThreads(int threads) {
  at::set_num_threads(threads);
  // Looked up at run time: a LibTorch on MKL or another BLAS has no such
  // function, and LibTorch itself sets MKL's threads.
  using SetThreads = void (*)(int);
  if (auto* set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) {
    set(threads);
  }
}

void ReexecWithPassiveOpenMpWait(char** argv) {
  if (getenv("OMP_WAIT_POLICY") != nullptr || getenv("GOMP_SPINCOUNT") != nullptr) return;
  setenv("OMP_WAIT_POLICY", "PASSIVE", /*overwrite=*/0);
  execv("/proc/self/exe", argv);
}

}  // namespace spacebyte::trainer
