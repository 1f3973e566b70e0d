// The fused AdamW step against LibTorch's AdamW::step over several steps.

#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "kernels/fused_adamw.h"

namespace spacebyte::trainer {
namespace {

// One parameter is a transposed (non-contiguous) view so that the tensor-op
// path runs too.
std::vector<torch::Tensor> MakeParams() {
  torch::manual_seed(3);
  return {torch::randn({300, 70}), torch::randn({7}), torch::randn({40, 30}).t()};
}

TEST(FusedAdamWTest, MatchesLibTorchAdamWOverSteps) {
  constexpr double kLr = 0.01;
  std::vector<torch::Tensor> expected, actual, m, v;
  for (const torch::Tensor& p : MakeParams()) {
    expected.push_back(p.clone().set_requires_grad(true));
    actual.push_back(p.clone());
    m.push_back(torch::zeros_like(p));
    v.push_back(torch::zeros_like(p));
  }
  actual[2] = MakeParams()[2];  // keep it a transposed view
  m[2] = torch::zeros_like(actual[2]).t().contiguous().t();
  torch::optim::AdamWOptions options(kLr);
  options.betas({0.9, 0.98}).weight_decay(0.01);
  torch::optim::AdamW reference(expected, options);
  for (int step = 1; step <= 5; ++step) {
    torch::manual_seed(100 + step);
    std::vector<torch::Tensor> grads;
    for (size_t i = 0; i < expected.size(); ++i) {
      grads.push_back(torch::randn(expected[i].sizes()) * static_cast<double>(i + 1));
      expected[i].mutable_grad() = grads.back().clone();
    }
    reference.step();
    AdamWStep s;
    s.lr = kLr;
    s.beta1 = 0.9;
    s.beta2 = 0.98;
    s.weight_decay = 0.01;
    s.step = step;
    FusedAdamW(s, actual, grads, m, v);
  }
  ASSERT_FALSE(actual[2].is_contiguous());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_TRUE(torch::allclose(actual[i], expected[i], 1e-5, 1e-6)) << "parameter " << i;
  }
}

TEST(FusedAdamWTest, RefusesMismatchedShapesAndStepZero) {
  const std::vector<torch::Tensor> p = {torch::zeros({4})}, wrong = {torch::zeros({3})};
  AdamWStep s;
  EXPECT_THROW(FusedAdamW(s, p, wrong, p, p), c10::Error);
  s.step = 0;
  EXPECT_THROW(FusedAdamW(s, p, p, {torch::zeros({4})}, {torch::zeros({4})}), c10::Error);
}

}  // namespace
}  // namespace spacebyte::trainer
