#ifndef SPACEBYTE_PARALLEL_MPI_COLLECTIVES_H_
#define SPACEBYTE_PARALLEL_MPI_COLLECTIVES_H_

#include <mpi.h>

#include <memory>

#include "parallel/collectives.h"

namespace spacebyte::parallel {

// Collectives on CPU tensors (float, double, int32, int64, and bfloat16 and
// half, which are summed in float) over a duplicate of `comm`, so its
// traffic never matches messages of other users of `comm`.
std::unique_ptr<Collectives> MakeMpiCollectives(MPI_Comm comm);

}  // namespace spacebyte::parallel

#endif  // SPACEBYTE_PARALLEL_MPI_COLLECTIVES_H_
