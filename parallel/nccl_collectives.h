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
// Work is queued on NCCL's own non-blocking stream, so it overlaps the
// compute stream (LibTorch's current stream, by default the legacy one,
// with which a stream of default flags would serialise). Events order the
// two: a collective starts after the compute stream has written its
// tensors, and Wait makes the compute stream wait for the result.
absl::StatusOr<std::unique_ptr<Collectives>> MakeNcclCollectives(MPI_Comm comm,
                                                                 int device);

}  // namespace spacebyte::parallel

#endif  // SPACEBYTE_PARALLEL_NCCL_COLLECTIVES_H_
