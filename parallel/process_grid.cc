#include "parallel/process_grid.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "parallel/collective_watch.h"

namespace spacebyte::parallel {

ProcessGrid::ProcessGrid(ProcessGrid&& other) noexcept { *this = std::move(other); }

ProcessGrid& ProcessGrid::operator=(ProcessGrid&& other) noexcept {
  if (this == &other) return *this;
  Free();
  world_rank_ = other.world_rank_;
  world_size_ = other.world_size_;
  tp_ = other.tp_;
  world_ = other.world_;
  tp_comm_ = std::exchange(other.tp_comm_, MPI_COMM_NULL);
  dp_comm_ = std::exchange(other.dp_comm_, MPI_COMM_NULL);
  return *this;
}

ProcessGrid::~ProcessGrid() { Free(); }

void ProcessGrid::Free() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
  if (tp_comm_ != MPI_COMM_NULL) MPI_Comm_free(&tp_comm_);
  if (dp_comm_ != MPI_COMM_NULL) MPI_Comm_free(&dp_comm_);
}

absl::StatusOr<ProcessGrid> MakeProcessGrid(int tp) {
  ProcessGrid grid;
  MPI_Comm_rank(MPI_COMM_WORLD, &grid.world_rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &grid.world_size_);
  if (tp < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("parallel.tp must be at least 1, got ", tp));
  }
  if (grid.world_size_ % tp != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("world size ", grid.world_size_,
                     " is not divisible by parallel.tp = ", tp));
  }
  grid.tp_ = tp;
  const CollectiveWait wait("the split of the world into tp and dp groups");
  MPI_Comm_split(MPI_COMM_WORLD, grid.dp_rank(), grid.tp_rank(), &grid.tp_comm_);
  MPI_Comm_split(MPI_COMM_WORLD, grid.tp_rank(), grid.dp_rank(), &grid.dp_comm_);
  return grid;
}

absl::Status CheckHeadsDivisible(absl::string_view what, int64_t width,
                                 int64_t d_key, int tp) {
  if (d_key <= 0 || width % d_key != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": width ", width, " is not a multiple of d_key = ", d_key));
  }
  const int64_t heads = width / d_key;
  if (heads % tp != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " have ", heads, " heads (width ", width, " / d_key ", d_key,
        "), not divisible by parallel.tp = ", tp));
  }
  return absl::OkStatus();
}

}  // namespace spacebyte::parallel
