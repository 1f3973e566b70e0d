#include "parallel/tensor_parallel.h"

#include <gtest/gtest.h>

#include <memory>

#include "parallel/mpi_collectives.h"
#include "parallel/process_grid.h"
#include "parallel/shard_layout.h"

namespace spacebyte::parallel {
namespace {

double MaxDiff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

torch::Tensor Param(const torch::Tensor& t) {
  return t.detach().clone().requires_grad_(true);
}

// Tensor parallelism over pairs of consecutive ranks (2 ranks: 1 × 2; 4 ranks:
// the 2 × 2 grid, two independent tp groups). Full weights come from a seed
// every rank shares, so each rank can also compute the tp = 1 answer.
class TensorParallelTest : public testing::Test {
 protected:
  void SetUp() override {
    auto grid = MakeProcessGrid(2);
    ASSERT_TRUE(grid.ok()) << grid.status();
    grid_ = std::make_unique<ProcessGrid>(std::move(*grid));
    tp_ = MakeMpiCollectives(grid_->tp_comm());
    torch::manual_seed(7);
  }
  int rank() const { return grid_->tp_rank(); }

  std::unique_ptr<ProcessGrid> grid_;
  std::unique_ptr<Collectives> tp_;
};

// Column-parallel linear, ReLU, row-parallel linear.
TEST_F(TensorParallelTest, MlpMatchesSingleProcess) {
  torch::Tensor x = Param(torch::randn({4, 6}));
  torch::Tensor w1 = Param(torch::randn({8, 6}));
  torch::Tensor w2 = Param(torch::randn({5, 8}));
  torch::Tensor loss = torch::linear(torch::relu(torch::linear(x, w1)), w2).pow(2).mean();
  loss.backward();

  torch::Tensor x_tp = Param(x);
  const ShardLayout column = ColumnParallel(w1.sizes(), rank(), 2);
  const ShardLayout row = RowParallel(w2.sizes(), rank(), 2);
  torch::Tensor w1_tp = Param(TakeShard(w1, column));
  torch::Tensor w2_tp = Param(TakeShard(w2, row));
  torch::Tensor h = torch::relu(torch::linear(CopyToTensorParallel(x_tp, tp_.get()), w1_tp));
  torch::Tensor y = ReduceFromTensorParallel(torch::linear(h, w2_tp), tp_.get());
  torch::Tensor loss_tp = y.pow(2).mean();
  loss_tp.backward();

  EXPECT_LT(MaxDiff(loss_tp, loss), 1e-5);
  EXPECT_LT(MaxDiff(x_tp.grad(), x.grad()), 1e-5);
  EXPECT_LT(MaxDiff(w1_tp.grad(), TakeShard(w1.grad(), column)), 1e-5);
  EXPECT_LT(MaxDiff(w2_tp.grad(), TakeShard(w2.grad(), row)), 1e-5);
}

// Without a group both are the identity, and gradients pass untouched.
TEST_F(TensorParallelTest, NoGroupIsTheIdentity) {
  torch::Tensor x = Param(torch::randn({3}));
  ReduceFromTensorParallel(CopyToTensorParallel(x, nullptr), nullptr).sum().backward();
  EXPECT_TRUE(torch::equal(x.grad(), torch::ones({3})));
}



}  // namespace
}  // namespace spacebyte::parallel
