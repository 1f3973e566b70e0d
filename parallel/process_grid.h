#ifndef SPACEBYTE_PARALLEL_PROCESS_GRID_H_
#define SPACEBYTE_PARALLEL_PROCESS_GRID_H_

// The dp × tp grid of ranks. Tensor-parallel groups are consecutive world
// ranks (so with ranks packed per node they stay inside one node, where the
// per-layer all-reduces are cheap); data-parallel groups are strided by tp.
//
//   world rank = dp_rank * tp + tp_rank
//   tp=2, world=4:  tp groups {0,1} {2,3};  dp groups {0,2} {1,3}

#include <mpi.h>

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "parallel/world_group.h"

namespace spacebyte::parallel {

class ProcessGrid {
 public:
  ProcessGrid(ProcessGrid&& other) noexcept;
  ProcessGrid& operator=(ProcessGrid&& other) noexcept;
  ProcessGrid(const ProcessGrid&) = delete;
  ~ProcessGrid();  // frees the communicators (unless MPI is already finalised)

  int world_rank() const { return world_rank_; }
  int world_size() const { return world_size_; }
  int tp() const { return tp_; }
  int dp() const { return world_size_ / tp_; }
  int tp_rank() const { return world_rank_ % tp_; }
  int dp_rank() const { return world_rank_ / tp_; }
  // Ranks of this rank's tensor-parallel group, in tp_rank order.
  MPI_Comm tp_comm() const { return tp_comm_; }
  // Ranks holding the same tensor-parallel shard, in dp_rank order.
  MPI_Comm dp_comm() const { return dp_comm_; }
  // All ranks, for host-side agreements (parallel/world_group.h).
  const WorldGroup& world() const { return world_; }

 private:
  friend absl::StatusOr<ProcessGrid> MakeProcessGrid(int tp);
  ProcessGrid() = default;
  void Free();

  int world_rank_ = 0, world_size_ = 1, tp_ = 1;
  MPI_Comm tp_comm_ = MPI_COMM_NULL, dp_comm_ = MPI_COMM_NULL;
  WorldGroup world_;
};

// Splits MPI_COMM_WORLD (MPI must be initialised). A tp that does not divide
// the world size is an InvalidArgument error; its text depends only on the
// world size and tp, so every rank returns the same error without any
// communication and the job can exit cleanly instead of hanging.
absl::StatusOr<ProcessGrid> MakeProcessGrid(int tp);

// Tensor parallelism splits attention by heads: `width / d_key` heads must
// divide evenly among the tp ranks. `what` names the blocks in the error,
// e.g. "global blocks".
absl::Status CheckHeadsDivisible(absl::string_view what, int64_t width,
                                 int64_t d_key, int tp);

}  // namespace spacebyte::parallel

#endif  // SPACEBYTE_PARALLEL_PROCESS_GRID_H_
