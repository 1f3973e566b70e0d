#ifndef SPACEBYTE_PARALLEL_MPI_ENV_H_
#define SPACEBYTE_PARALLEL_MPI_ENV_H_

// MPI's lifetime for one process: initialised once at the top of main, ranks
// and node-local ranks looked up once, finalised when the object goes away.

#include <mpi.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace spacebyte::parallel {

class MpiEnv {
 public:
  // Initialises MPI asking for MPI_THREAD_MULTIPLE, so that collectives may be
  // started from autograd hooks whatever thread runs them; at least
  // MPI_THREAD_FUNNELED is required (then only the main thread may call MPI,
  // which MpiCollectives checks).
  static absl::StatusOr<MpiEnv> Init(int* argc, char*** argv);

  MpiEnv(MpiEnv&& other) noexcept;
  MpiEnv& operator=(MpiEnv&&) = delete;
  MpiEnv(const MpiEnv&) = delete;
  ~MpiEnv();  // frees the node communicator and calls MPI_Finalize

  int world_rank() const { return world_rank_; }
  int world_size() const { return world_size_; }
  // Rank and count of the ranks sharing this node (MPI_COMM_TYPE_SHARED):
  // picks the CUDA device and divides the node's cores.
  int local_rank() const { return local_rank_; }
  int local_size() const { return local_size_; }
  int thread_level() const { return thread_level_; }

  // Intra-op threads for this rank: `configured` when positive; otherwise the
  // CPUs this process may run on, divided among the node's ranks unless the
  // launcher already bound each rank to its own smaller set of CPUs.
  int IntraOpThreads(int configured) const;

 private:
  MpiEnv() = default;

  bool owns_ = false;
  int world_rank_ = 0, world_size_ = 1, local_rank_ = 0, local_size_ = 1;
  int thread_level_ = MPI_THREAD_SINGLE;
  MPI_Comm node_ = MPI_COMM_NULL;
};

// Prints "rank R: <status>" to stderr and takes every rank of the job down
// with MPI_Abort, so no rank is left waiting in a collective. For errors after
// MPI_Init that only some ranks see; errors every rank sees identically (bad
// config, bad world size) should instead return and exit normally. Any
// thread may call it; where MPI allows only its main thread (below
// MPI_THREAD_MULTIPLE), another thread exits with code 1 without MPI_Abort
// and leaves the rest to the launcher.
[[noreturn]] void AbortAll(const absl::Status& status);

}  // namespace spacebyte::parallel

#endif  // SPACEBYTE_PARALLEL_MPI_ENV_H_
