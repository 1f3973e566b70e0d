// The fused AdamW step against LibTorch's AdamW::step over several steps.

#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "kernels/fused_adamw.h"

namespace spacebyte::trainer {
namespace {

// Two groups with different learning rates; one parameter is a transposed
// (non-contiguous) view so that the tensor-op path runs too.
std::vector<torch::Tensor> MakeParams() {
  torch::manual_seed(3);
  return {torch::randn({300, 70}), torch::randn({7}), torch::randn({40, 30}).t()};
}

std::unique_ptr<torch::optim::AdamW> MakeAdamW(const std::vector<torch::Tensor>& params) {
  std::vector<torch::optim::OptimizerParamGroup> groups;
  for (auto [lo, hi, lr] : {std::tuple{0, 2, 0.01}, std::tuple{2, 3, 0.003}}) {
    auto options = std::make_unique<torch::optim::AdamWOptions>(lr);
    options->betas({0.9, 0.98}).weight_decay(0.01);
    groups.emplace_back(std::vector<torch::Tensor>(params.begin() + lo, params.begin() + hi),
                        std::move(options));
  }
  return std::make_unique<torch::optim::AdamW>(std::move(groups),
                                               torch::optim::AdamWOptions(0.01));
}

TEST(FusedAdamWTest, MatchesLibTorchAdamWOverSteps) {
  std::vector<torch::Tensor> expected, actual;
  for (const torch::Tensor& p : MakeParams()) {
    expected.push_back(p.clone().set_requires_grad(true));
    actual.push_back(p.clone().set_requires_grad(true));
  }
  actual[2] = MakeParams()[2].set_requires_grad(true);  // keep it a transposed view
  auto reference = MakeAdamW(expected), fused = MakeAdamW(actual);
  for (int step = 0; step < 5; ++step) {
    torch::manual_seed(100 + step);
    for (size_t i = 0; i < expected.size(); ++i) {
      const torch::Tensor g = torch::randn(expected[i].sizes()) * static_cast<double>(i + 1);
      expected[i].mutable_grad() = g.clone();
      actual[i].mutable_grad() = g.clone();
    }
    reference->step();
    FusedAdamWStep(*fused);
  }
  ASSERT_FALSE(actual[2].is_contiguous());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_TRUE(torch::allclose(actual[i], expected[i], 1e-5, 1e-6)) << "parameter " << i;
    // The moments live where AdamW::step keeps them, so either can go on.
    const auto& state = static_cast<torch::optim::AdamWParamState&>(
        *fused->state().at(OptimizerStateKey(actual[i])));
    EXPECT_EQ(state.step(), 5);
  }
}

}  // namespace
}  // namespace spacebyte::trainer
