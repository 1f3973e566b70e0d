#include "parallel/mpi_collectives.h"

#include <gtest/gtest.h>

#include <memory>

namespace spacebyte::parallel {
namespace {

class MpiCollectivesTest : public testing::TestWithParam<torch::ScalarType> {
 protected:
  void SetUp() override {
    world_ = MakeMpiCollectives(MPI_COMM_WORLD);
    options_ = torch::dtype(GetParam());
  }
  int rank() const { return world_->rank(); }
  int size() const { return world_->size(); }

  std::unique_ptr<Collectives> world_;
  torch::TensorOptions options_;
};

// Every value below is a small integer, exact in every type, so sums compare
// with equality.
TEST_P(MpiCollectivesTest, AllReduceSumsInPlaceSyncAndAsync) {
  torch::Tensor x = torch::full({5}, rank() + 1.0, options_);
  world_->AllReduceSum(x);
  EXPECT_EQ(x.scalar_type(), GetParam());
  EXPECT_TRUE(torch::equal(x, torch::full({5}, size() * (size() + 1) / 2, options_)));

  // Polled to completion, as GradSync does.
  torch::Tensor y = torch::arange(4, options_) * (rank() + 1);
  std::unique_ptr<PendingCollective> pending = world_->AllReduceSumAsync(y);
  while (!pending->Done()) {
  }
  EXPECT_TRUE(torch::equal(y, torch::arange(4, options_) * (size() * (size() + 1) / 2)));
}

TEST_P(MpiCollectivesTest, ReduceScatterThenAllGather) {
  const int64_t chunk = 3;
  torch::Tensor full = torch::arange(chunk * size(), options_) + rank();
  torch::Tensor mine = torch::empty({chunk}, options_);
  world_->ReduceScatterSumAsync(full, mine)->Wait();
  // Element i of the sum is size * i + (0 + 1 + ... + size - 1).
  const torch::Tensor want =
      torch::arange(rank() * chunk, (rank() + 1) * chunk, options_) * size() +
      size() * (size() - 1) / 2;
  EXPECT_TRUE(torch::equal(mine, want));

  torch::Tensor gathered = torch::full({chunk * size()}, -1.0, options_);
  gathered.narrow(0, rank() * chunk, chunk).fill_(rank() + 1.0);
  world_->AllGatherAsync(gathered)->Wait();
  const torch::Tensor owner = torch::arange(chunk * size()).div(chunk, "floor");
  EXPECT_TRUE(torch::equal(gathered, (owner + 1).to(GetParam())));
}

// 16-bit floats (bf16 activations of tensor-parallel layers under CPU
// autocast) are summed in float, as NCCL does on GPUs.
INSTANTIATE_TEST_SUITE_P(Types, MpiCollectivesTest,
                         testing::Values(torch::kFloat, torch::kDouble, torch::kBFloat16,
                                         torch::kHalf),
                         [](const auto& info) { return std::string(c10::toString(info.param)); });

}  // namespace
}  // namespace spacebyte::parallel
