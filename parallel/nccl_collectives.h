#ifndef SPACEBYTE_PARALLEL_NCCL_COLLECTIVES_H_
#define SPACEBYTE_PARALLEL_NCCL_COLLECTIVES_H_

// Built only with -DSPACEBYTE_CUDA=ON.

#include <mpi.h>

#include <memory>

#include "absl/status/statusor.h"
#include "parallel/collectives.h"

namespace spacebyte::parallel {

// Collectives on CUDA tensors of `device` (one device per local rank:
// MpiEnv::local_rank() modulo the device count) over the ranks of `comm`.
// Rank 0 of `comm` creates the NCCL unique id and broadcasts it over MPI.
//
// Work is queued on a stream created with default flags, which synchronises
// with the legacy default stream where LibTorch runs kernels unless told
// otherwise; so inputs are ready when a collective starts and results are
// visible to later kernels without c10 CUDA stream APIs (absent from the
// CPU LibTorch this project builds against).
absl::StatusOr<std::unique_ptr<Collectives>> MakeNcclCollectives(MPI_Comm comm,
                                                                 int device);

}  // namespace spacebyte::parallel

#endif  // SPACEBYTE_PARALLEL_NCCL_COLLECTIVES_H_
