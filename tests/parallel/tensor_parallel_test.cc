#include "parallel/tensor_parallel.h"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "parallel/mpi_collectives.h"
#include "parallel/process_grid.h"
#include "parallel/weight_shards.h"

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
  torch::Tensor w1_tp = Param(ColumnParallelShard(w1, rank(), 2));
  torch::Tensor w2_tp = Param(RowParallelShard(w2, rank(), 2));
  torch::Tensor h = torch::relu(torch::linear(CopyToTensorParallel(x_tp, *tp_), w1_tp));
  torch::Tensor y = ReduceFromTensorParallel(torch::linear(h, w2_tp), *tp_);
  torch::Tensor loss_tp = y.pow(2).mean();
  loss_tp.backward();

  EXPECT_LT(MaxDiff(loss_tp, loss), 1e-5);
  EXPECT_LT(MaxDiff(x_tp.grad(), x.grad()), 1e-5);
  EXPECT_LT(MaxDiff(w1_tp.grad(), ColumnParallelShard(w1.grad(), rank(), 2)), 1e-5);
  EXPECT_LT(MaxDiff(w2_tp.grad(), RowParallelShard(w2.grad(), rank(), 2)), 1e-5);
}

TEST_F(TensorParallelTest, GatherMatchesSingleProcess) {
  torch::Tensor x = torch::randn({3, 6});
  torch::Tensor w = Param(torch::randn({8, 6}));
  torch::Tensor target = torch::randn({3, 8});
  torch::Tensor loss = (torch::linear(x, w) * target).sum();
  loss.backward();

  torch::Tensor w_tp = Param(ColumnParallelShard(w, rank(), 2));
  torch::Tensor h = GatherFromTensorParallel(torch::linear(x, w_tp), *tp_, 1);
  torch::Tensor loss_tp = (h * target).sum();
  loss_tp.backward();

  EXPECT_LT(MaxDiff(loss_tp, loss), 1e-5);
  EXPECT_LT(MaxDiff(w_tp.grad(), ColumnParallelShard(w.grad(), rank(), 2)), 1e-5);
}

// Causal attention with the spec's fused QKV layout and a per-head scale
// shared by all heads (as the Q/K norms are). With `tp`, the weights are this
// rank's shards and the region is entered and left as model/ does it.
torch::Tensor Attention(const torch::Tensor& x, const torch::Tensor& wqkv,
                        const torch::Tensor& wo, const torch::Tensor& scale,
                        int64_t d_key, Collectives* tp) {
  torch::Tensor in = tp ? CopyToTensorParallel(x, *tp) : x;
  torch::Tensor s = tp ? CopyToTensorParallel(scale, *tp) : scale;
  const int64_t b = x.size(0), t = x.size(1);
  auto heads = [&](const torch::Tensor& z) {
    return z.reshape({b, t, -1, d_key}).transpose(1, 2);
  };
  std::vector<torch::Tensor> qkv = torch::linear(in, wqkv).chunk(3, -1);
  torch::Tensor q = heads(qkv[0]) * s, k = heads(qkv[1]) * s, v = heads(qkv[2]);
  torch::Tensor scores = q.matmul(k.transpose(-1, -2)) / std::sqrt(double(d_key));
  torch::Tensor mask = torch::ones({t, t}, torch::kBool).triu(1);
  torch::Tensor att = scores.masked_fill(mask, -INFINITY).softmax(-1).matmul(v);
  torch::Tensor out = torch::linear(att.transpose(1, 2).reshape({b, t, -1}), wo);
  return tp ? ReduceFromTensorParallel(out, *tp) : out;
}

TEST_F(TensorParallelTest, AttentionSplitByHeadsMatchesSingleProcess) {
  const int64_t d_key = 2, w = 8;
  torch::Tensor x = Param(torch::randn({2, 5, w}));
  torch::Tensor wqkv = Param(torch::randn({3 * w, w}));
  torch::Tensor wo = Param(torch::randn({w, w}));
  torch::Tensor scale = Param(torch::rand({d_key}) + 0.5);
  torch::Tensor loss = Attention(x, wqkv, wo, scale, d_key, nullptr).pow(2).mean();
  loss.backward();

  torch::Tensor x_tp = Param(x), scale_tp = Param(scale);
  torch::Tensor wqkv_tp = Param(QkvShard(wqkv, d_key, rank(), 2));
  torch::Tensor wo_tp = Param(RowParallelShard(wo, rank(), 2));
  torch::Tensor loss_tp =
      Attention(x_tp, wqkv_tp, wo_tp, scale_tp, d_key, tp_.get()).pow(2).mean();
  loss_tp.backward();

  EXPECT_LT(MaxDiff(loss_tp, loss), 1e-5);
  EXPECT_LT(MaxDiff(x_tp.grad(), x.grad()), 1e-5);
  EXPECT_LT(MaxDiff(scale_tp.grad(), scale.grad()), 1e-5);
  EXPECT_LT(MaxDiff(wqkv_tp.grad(), QkvShard(wqkv.grad(), d_key, rank(), 2)), 1e-5);
  EXPECT_LT(MaxDiff(wo_tp.grad(), RowParallelShard(wo.grad(), rank(), 2)), 1e-5);
}

}  // namespace
}  // namespace spacebyte::parallel
