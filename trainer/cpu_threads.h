#ifndef SPACEBYTE_TRAINER_CPU_THREADS_H_
#define SPACEBYTE_TRAINER_CPU_THREADS_H_

namespace spacebyte::trainer {

// Gives LibTorch's intra-op pool and the BLAS library the same `threads`
// per rank. Debian's LibTorch calls the pthread build of OpenBLAS, whose own
// pool otherwise takes every core of the machine in every rank: with two
// ranks, or next to LibTorch's OpenMP threads, the cores are oversubscribed
// and the threads spend the step waiting for each other.
void SetCpuThreads(int threads);

// LibTorch's OpenMP workers spin for a while after every parallel region
// unless OMP_WAIT_POLICY says otherwise, and libgomp reads it only when it
// loads. The spinning takes the cores that OpenBLAS's threads (and other
// ranks) need: measured on 2 cores, 6x the CPU time per training step. So,
// when neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT is set, this sets
// OMP_WAIT_POLICY=PASSIVE and executes the program again with the same
// arguments; it returns only if that is not needed or not possible.
void ReexecWithPassiveOpenMpWait(char** argv);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_TRAINER_CPU_THREADS_H_
