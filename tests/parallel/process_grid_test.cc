#include "parallel/process_grid.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

namespace spacebyte::parallel {
namespace {

int WorldSize() {
  int size = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}

// Sum of the world ranks in `comm`, to see who is in it.
int SumOfWorldRanks(MPI_Comm comm, int world_rank) {
  int sum = 0;
  MPI_Allreduce(&world_rank, &sum, 1, MPI_INT, MPI_SUM, comm);
  return sum;
}

void ExpectLayout(int tp) {
  auto grid = MakeProcessGrid(tp);
  ASSERT_TRUE(grid.ok()) << grid.status();
  const int world = WorldSize(), rank = grid->world_rank();
  EXPECT_EQ(grid->tp(), tp);
  EXPECT_EQ(grid->dp(), world / tp);
  EXPECT_EQ(grid->tp_rank(), rank % tp);
  EXPECT_EQ(grid->dp_rank(), rank / tp);

  int tp_rank = -1, tp_size = -1, dp_rank = -1, dp_size = -1;
  MPI_Comm_rank(grid->tp_comm(), &tp_rank);
  MPI_Comm_size(grid->tp_comm(), &tp_size);
  MPI_Comm_rank(grid->dp_comm(), &dp_rank);
  MPI_Comm_size(grid->dp_comm(), &dp_size);
  EXPECT_EQ(tp_rank, grid->tp_rank());
  EXPECT_EQ(tp_size, tp);
  EXPECT_EQ(dp_rank, grid->dp_rank());
  EXPECT_EQ(dp_size, world / tp);

  // tp group: consecutive ranks first..first+tp-1; dp group: stride tp.
  const int first = grid->dp_rank() * tp;
  EXPECT_EQ(SumOfWorldRanks(grid->tp_comm(), rank), tp * first + tp * (tp - 1) / 2);
  const int dp = world / tp;
  EXPECT_EQ(SumOfWorldRanks(grid->dp_comm(), rank),
            dp * grid->tp_rank() + tp * dp * (dp - 1) / 2);
}

TEST(ProcessGrid, AllDataParallel) { ExpectLayout(1); }

TEST(ProcessGrid, AllTensorParallel) { ExpectLayout(WorldSize()); }

TEST(ProcessGrid, TwoByTwo) {
  if (WorldSize() != 4) GTEST_SKIP() << "needs 4 ranks";
  ExpectLayout(2);
}

// Every rank gets the same error and carries on: the barrier afterwards
// would hang if any rank had stopped or blocked.
TEST(ProcessGrid, WorldSizeNotDivisibleIsTheSameErrorOnEveryRank) {
  const int world = WorldSize();
  auto grid = MakeProcessGrid(world + 1);
  ASSERT_FALSE(grid.ok());
  EXPECT_EQ(grid.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(grid.status().message(),
            absl::StrCat("world size ", world,
                         " is not divisible by parallel.tp = ", world + 1));
  EXPECT_FALSE(MakeProcessGrid(0).ok());
  MPI_Barrier(MPI_COMM_WORLD);
}

TEST(ProcessGrid, HeadsMustDivideAmongTensorParallelRanks) {
  EXPECT_TRUE(CheckHeadsDivisible("global blocks", 384, 64, 2).ok());
  absl::Status bad = CheckHeadsDivisible("global blocks", 384, 64, 4);
  EXPECT_EQ(bad.message(),
            "global blocks have 6 heads (width 384 / d_key 64), not divisible "
            "by parallel.tp = 4");
  EXPECT_FALSE(CheckHeadsDivisible("global blocks", 100, 64, 1).ok());
}

}  // namespace
}  // namespace spacebyte::parallel
