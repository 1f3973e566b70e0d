// The trainer's own tensor-parallel plan (ApplyTensorParallel) on real
// models, over tp groups of 2 (on 2 ranks: 1 × 2; on 4: two groups): the
// split model's loss and every gradient match the whole model's. A sharded
// weight's gradient is this rank's shard of the whole one; a replicated
// one, the Q/K norm scales used on this rank's heads only included, is the
// whole gradient.

#include "model/tensor_parallel_plan.h"

#include <memory>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "parallel/mpi_collectives.h"
#include "parallel/process_grid.h"

namespace spacebyte::trainer {
namespace {

ModelSpec Spec(ModelKind kind) {
  ModelSpec s;
  s.kind = kind;
  s.d_model = 32;
  s.d_local = 16;
  s.context_size = 48;
  s.global_context_size = 12;
  s.n_layers = 2;
  s.n_local_layers = 2;
  s.n_initial_layers = 1;
  s.local_attention_window = 8;
  s.d_key = 8;  // 4 global heads, 2 per rank
  s.rope = kind == ModelKind::kTransformer;
  return s;
}

class TensorParallelPlanTest : public ::testing::TestWithParam<ModelKind> {
 protected:
  void SetUp() override {
    absl::StatusOr<parallel::ProcessGrid> grid = parallel::MakeProcessGrid(2);
    ASSERT_TRUE(grid.ok()) << grid.status();
    grid_ = std::make_unique<parallel::ProcessGrid>(std::move(*grid));
    tp_ = parallel::MakeMpiCollectives(grid_->tp_comm());
  }

  std::unique_ptr<parallel::ProcessGrid> grid_;
  std::unique_ptr<parallel::Collectives> tp_;
};

TEST_P(TensorParallelPlanTest, SplitModelMatchesTheWholeOne) {
  const ModelSpec spec = Spec(GetParam());
  torch::manual_seed(11);
  std::shared_ptr<ByteLm> whole = MakeModel(spec);
  torch::manual_seed(11);
  std::shared_ptr<ByteLm> split = MakeModel(spec);
  const TensorParallelPlan plan = ApplyTensorParallel(*split, *tp_);
  EXPECT_EQ(plan.sharded.size(), 4u * spec.n_layers);

  // Words of letters between spaces, the same on every rank.
  torch::manual_seed(5);
  torch::Tensor targets = torch::randint('a', 'h', {3, spec.context_size}, torch::kLong);
  targets.masked_fill_(torch::rand(targets.sizes()).lt(0.2), ' ');
  const torch::Tensor tokens = TokensFromTargets(targets);
  const torch::Tensor loss = ComputeLoss(whole->Forward(tokens), targets).loss;
  loss.backward();
  const torch::Tensor split_loss = ComputeLoss(split->Forward(tokens), targets).loss;
  split_loss.backward();
  EXPECT_NEAR(split_loss.item<double>(), loss.item<double>(), 1e-5);

  const auto whole_params = whole->named_parameters();
  for (const auto& p : split->named_parameters()) {
    const torch::Tensor& full = whole_params[p.key()].grad();
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    const auto layout = plan.sharded.find(p.key());
    const torch::Tensor want =
        layout == plan.sharded.end() ? full : parallel::TakeShard(full, layout->second);
    ASSERT_EQ(p.value().grad().sizes(), want.sizes()) << p.key();
    EXPECT_LT((p.value().grad() - want).abs().max().item<double>(), 1e-5) << p.key();
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, TensorParallelPlanTest,
                         ::testing::Values(ModelKind::kSpaceByte, ModelKind::kTransformer));

}  // namespace
}  // namespace spacebyte::trainer
