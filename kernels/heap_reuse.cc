#include "kernels/heap_reuse.h"

#include <malloc.h>

namespace spacebyte::trainer {

void ReuseFreedHeapMemory() {
  // 32 MiB is the largest mmap threshold glibc accepts on 64-bit; larger
  // tensors are still mapped on their own.
  constexpr int kMmapThreshold = 32 << 20;
  constexpr int kTrimThreshold = 1 << 30;
  mallopt(M_MMAP_THRESHOLD, kMmapThreshold);
  mallopt(M_TRIM_THRESHOLD, kTrimThreshold);
}

}  // namespace spacebyte::trainer
