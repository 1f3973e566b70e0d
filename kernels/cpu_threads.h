#ifndef SPACEBYTE_KERNELS_CPU_THREADS_H_
#define SPACEBYTE_KERNELS_CPU_THREADS_H_

namespace spacebyte::trainer {

// Gives LibTorch's intra-op pool and the BLAS library the same `threads`
// per rank. Debian's LibTorch calls the pthread build of OpenBLAS, whose own
// pool otherwise takes every core of the machine in every rank: with two
// ranks, or next to LibTorch's OpenMP threads, the cores are oversubscribed
// and the threads spend the step waiting for each other.
void SetCpuThreads(int threads);

// While alive, OpenBLAS runs every call on the calling thread, for regions
// that spread many small products over LibTorch's threads themselves; the
// previous thread count comes back after. Does nothing without OpenBLAS.
// Not for nesting across threads: OpenBLAS's count is process-wide.
class SerialBlasScope {
 public:
  SerialBlasScope();
  ~SerialBlasScope();
  SerialBlasScope(const SerialBlasScope&) = delete;
  SerialBlasScope& operator=(const SerialBlasScope&) = delete;

 private:
  int previous_ = 0;
};

// Idle worker threads spin, taking the cores other threads need:
// - LibTorch's OpenMP workers after every parallel region, unless
//   OMP_WAIT_POLICY says otherwise (measured on 2 cores: 6x the CPU time per
//   training step);
// - OpenBLAS's workers for 2^28 cycles after each product, calling
//   sched_yield, unless OPENBLAS_THREAD_TIMEOUT is lower. They then slow the
//   element-wise ops and the attention kernel's heads that run on LibTorch's
//   threads between products (D384, one rank: 2,560-2,950 -> 3,060-3,530
//   bytes/s with the timeout at its minimum, 4, i.e. 2^4 cycles).
// Both libraries read these only when they load. So this sets
// OMP_WAIT_POLICY=PASSIVE (unless it or GOMP_SPINCOUNT is set) and
// OPENBLAS_THREAD_TIMEOUT=4 (unless set), and if it set either, executes the
// program again with the same arguments; it returns only if that is not
// needed or not possible.
void ReexecWithPassiveWaiting(char** argv);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_KERNELS_CPU_THREADS_H_
