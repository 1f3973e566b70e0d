// AdamW as docs/model.md sets it up, against updates worked out by hand with
// PyTorch's AdamW rule (eps 1e-8), step t:
//   p *= 1 - lr * wd;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
//   p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
// where a linear weight's lr is the base lr times d_in^-0.5.

#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "parallel/grad_sync.h"
#include "train/optimizer.h"

namespace spacebyte::trainer {
namespace {

struct TinyImpl : torch::nn::Module {
  TinyImpl() {
    linear = register_module("linear", torch::nn::Linear(
                                           torch::nn::LinearOptions(4, 1).bias(false)));
    scale = register_parameter("scale", torch::zeros({2}));
  }
  torch::nn::Linear linear{nullptr};
  torch::Tensor scale;
};
TORCH_MODULE(Tiny);

TrainSpec Spec(double lr) {
  TrainSpec spec;
  spec.lr = lr;
  spec.weight_decay = 0.01;
  spec.beta1 = 0.9;
  spec.beta2 = 0.98;
  return spec;
}

// Unsharded, one bucket.
Optimizer MakeOptimizer(Tiny& tiny, double lr) {
  return Optimizer(*tiny, LearningRateMultipliers(*tiny), Spec(lr),
                   parallel::LayoutOf(tiny->parameters(), /*bucket_mb=*/1, /*shards=*/1), 0);
}

void ExpectValues(const torch::Tensor& t, std::vector<double> want) {
  ASSERT_EQ(t.numel(), static_cast<int64_t>(want.size()));
  const torch::Tensor flat = t.detach().flatten().to(torch::kDouble);
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(flat[i].item<double>(), want[i], 1e-6) << "element " << i;
  }
}

TEST(OptimizerTest, LinearWeightsGetInverseSqrtFanIn) {
  Tiny tiny;
  const std::map<std::string, double> m = LearningRateMultipliers(*tiny);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_DOUBLE_EQ(m.at("linear.weight"), 0.5);  // d_in = 4
  EXPECT_DOUBLE_EQ(m.at("scale"), 1.0);
}

TEST(OptimizerTest, TwoStepsMatchHandComputedAdamW) {
  Tiny tiny;
  torch::NoGradGuard no_grad;
  tiny->linear->weight.copy_(torch::tensor({{0.5, -0.3, 0.2, 0.1}}));
  tiny->scale.copy_(torch::tensor({1.0, -2.0}));
  Optimizer optimizer = MakeOptimizer(tiny, 0.1);
  const std::vector<std::pair<torch::Tensor, torch::Tensor>> grads[] = {
      {{torch::tensor({{0.2, -0.1, 0.05, 0.0}}), torch::tensor({0.5, 0.5})}},
      {{torch::tensor({{0.1, 0.3, -0.05, 0.4}}), torch::tensor({-0.5, 0.25})}}};
  for (const auto& step : grads) {
    tiny->linear->weight.mutable_grad() = step[0].first.clone();
    tiny->scale.mutable_grad() = step[0].second.clone();
    optimizer.Step();
  }
  ExpectValues(tiny->linear->weight, {0.402781281, -0.274340259, 0.152456638, 0.062870428});
  ExpectValues(tiny->scale, {0.903364160, -2.189389695});
}

TEST(OptimizerTest, ScheduledRateKeepsEachGroupsMultiplier) {
  Tiny tiny;
  Optimizer optimizer = MakeOptimizer(tiny, 0.1);
  optimizer.SetLearningRate(0.02);
  EXPECT_DOUBLE_EQ(optimizer.LearningRateOf("linear.weight"), 0.01);
  EXPECT_DOUBLE_EQ(optimizer.LearningRateOf("scale"), 0.02);
}

}  // namespace
}  // namespace spacebyte::trainer
