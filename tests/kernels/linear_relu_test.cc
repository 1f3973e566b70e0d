// The feed-forward's first product with its ReLU as one op
// (kernels/linear_relu.h) against torch's linear and ReLU: values and both
// gradients, on the CPU (where at::_addmm_activation runs the product and
// the ReLU apart) and, on a GPU, with cuBLASLt's epilogue.

#include "kernels/linear_relu.h"

#include <torch/torch.h>

#include <gtest/gtest.h>

namespace spacebyte::trainer {
namespace {

// Largest difference of each result (output, dx, dw) of LinearRelu in
// `dtype` on `device` from linear + ReLU, relative to that result's largest
// value: the separate ops in double, or with `same_dtype` in `dtype` on
// `device` (bf16 products round far from double on the CPU, alike for both).
std::vector<double> RelativeErrors(const torch::Device& device, torch::ScalarType dtype,
                                   bool same_dtype) {
  torch::manual_seed(5);
  const torch::Tensor x = torch::randn({3, 70, 48}, torch::kDouble);
  const torch::Tensor w = torch::randn({136, 48}, torch::kDouble) / 7;
  const torch::Tensor grad = torch::randn({3, 70, 136}, torch::kDouble).to(dtype);
  const auto ref = same_dtype ? torch::TensorOptions(dtype).device(device)
                              : torch::TensorOptions(torch::kDouble);
  const torch::Tensor x_ref = x.to(ref).requires_grad_(true);
  const torch::Tensor w_ref = w.to(ref).requires_grad_(true);
  const torch::Tensor want = torch::relu(torch::linear(x_ref, w_ref));
  const auto want_grads = torch::autograd::grad({want}, {x_ref, w_ref}, {grad.to(ref)});

  const torch::Tensor x_got = x.to(device, dtype).requires_grad_(true);
  const torch::Tensor w_got = w.to(device, dtype).requires_grad_(true);
  const torch::Tensor got = LinearRelu(x_got, w_got);
  EXPECT_EQ(got.sizes(), want.sizes());
  EXPECT_EQ(got.scalar_type(), dtype);
  const auto got_grads = torch::autograd::grad({got}, {x_got, w_got}, {grad.to(device)});
  std::vector<double> errors;
  for (const auto& [g, r] : {std::pair{got, want}, std::pair{got_grads[0], want_grads[0]},
                             std::pair{got_grads[1], want_grads[1]}}) {
    const torch::Tensor expected = r.cpu().to(torch::kDouble);
    errors.push_back((g.cpu().to(torch::kDouble) - expected).abs().max().item<double>() /
                     expected.abs().max().item<double>());
  }
  return errors;
}

TEST(LinearReluTest, MatchesLinearAndReluWithTheirGradients) {
  for (const double e : RelativeErrors(torch::kCPU, torch::kFloat, false)) EXPECT_LT(e, 1e-5);
  for (const double e : RelativeErrors(torch::kCPU, torch::kBFloat16, true)) EXPECT_LT(e, 1e-2);
}

TEST(LinearReluTest, TheProcessCheckPassesOnTheCpuAndTheModelTakesItOnCudaOnly) {
  EXPECT_EQ(LinearReluMismatch(torch::kCPU), "");
  EXPECT_FALSE(LinearReluApplies(torch::randn({2, 3, 4})));
}

// On a GPU: the process's check, and the epilogue's result in bf16 and in
// fp32 (evaluation) against linear + ReLU.
TEST(LinearReluCudaTest, MatchesLinearAndReluOnCuda) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const torch::Device cuda(torch::kCUDA, 0);
  ASSERT_EQ(LinearReluMismatch(cuda), "");
  EXPECT_TRUE(LinearReluApplies(torch::randn({2, 3, 4}, cuda)));
  // In bf16 against the separate ops in bf16: against double, rounding the
  // inputs flips the ReLU of pre-activations near 0, which moves single
  // gradient values by several percent either way. TF32 may run the fp32
  // products: 1e-3 allows for it.
  for (const double e : RelativeErrors(cuda, torch::kBFloat16, true)) EXPECT_LT(e, 1e-2);
  for (const double e : RelativeErrors(cuda, torch::kFloat, false)) EXPECT_LT(e, 1e-3);
}

}  // namespace
}  // namespace spacebyte::trainer
