// The fused norm and RoPE (kernels/norm_rope.h) against the separate ops
// written out in double: outputs and both gradients, LayerNorm and the
// reference's RMSNorm, with and without the rotation, on the strided views
// attention hands over and on the rows of a block's pre-norm, in each dtype
// pair the model uses; on a GPU, the CUDA kernels against the CPU loop.

#include "kernels/norm_rope.h"

#include <torch/torch.h>

#include <cstdlib>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

namespace spacebyte::trainer {
namespace {

torch::Tensor Separate(const torch::Tensor& x, const torch::Tensor& scale, const torch::Tensor& cos,
                       const torch::Tensor& sin, bool center) {
  const torch::Tensor var = x.var(-1, /*unbiased=*/false, /*keepdim=*/true);
  const torch::Tensor normed =
      (center ? x - x.mean(-1, true) : x) * torch::rsqrt(var + 1e-5) * scale;
  if (!cos.defined()) return normed;
  const torch::Tensor pairs = normed.unflatten(-1, {x.size(-1) / 2, 2});
  const torch::Tensor a = pairs.select(-1, 0), b = pairs.select(-1, 1);
  const torch::Tensor c = cos.unsqueeze(1), s = sin.unsqueeze(1);
  return torch::stack({a * c - b * s, a * s + b * c}, -1).flatten(-2);
}

struct Case {
  bool center, rope;
  torch::ScalarType in, out;
  double tolerance;  // relative to the largest value
  int64_t heads = 3, d = 16;  // heads 1, d wide: a block's pre-norm over rows
};

class NormRopeTest : public ::testing::TestWithParam<Case> {};

TEST_P(NormRopeTest, MatchesTheSeparateOpsAndTheirGradients) {
  const Case c = GetParam();
  torch::manual_seed(7);
  const int64_t batch = 2, length = 37, heads = c.heads, d = c.d;
  // Q as a view of a fused projection [B, L, 3, H, d]: strided, last dim contiguous.
  const torch::Tensor qkv = torch::randn({batch, length, 3, heads, d}, torch::kDouble) * 2 + 0.5;
  const torch::Tensor scale = torch::rand({d}, torch::kDouble) + 0.5;
  const torch::Tensor angle = torch::rand({length, d / 2}, torch::kDouble) * 6.3;
  const torch::Tensor cos = c.rope ? angle.cos() : torch::Tensor();
  const torch::Tensor sin = c.rope ? angle.sin() : torch::Tensor();
  const torch::Tensor grad_out = torch::randn({batch, length, heads, d}, torch::kDouble);

  const torch::Tensor x = qkv.to(c.in).select(2, 1).detach().requires_grad_(true);
  const torch::Tensor s = scale.to(torch::kFloat).requires_grad_(true);
  ASSERT_TRUE(NormRopeApplies(x));
  const torch::Tensor got =
      NormRope(x, s, c.rope ? cos.to(torch::kFloat) : cos, c.rope ? sin.to(torch::kFloat) : sin,
               c.center, 1e-5, c.out);
  EXPECT_EQ(got.scalar_type(), c.out);
  EXPECT_TRUE(got.is_contiguous());
  const auto got_grads = torch::autograd::grad({got}, {x, s}, {grad_out.to(c.out)});

  const torch::Tensor x_ref = x.detach().to(torch::kDouble).requires_grad_(true);
  const torch::Tensor s_ref = scale.clone().requires_grad_(true);
  const torch::Tensor want = Separate(x_ref, s_ref, cos, sin, c.center);
  const auto want_grads = torch::autograd::grad({want}, {x_ref, s_ref}, {grad_out.to(c.out).to(torch::kDouble)});

  for (const auto& [name, g, w] : {std::tuple{"output", got, want},
                                   std::tuple{"dx", got_grads[0], want_grads[0]},
                                   std::tuple{"dscale", got_grads[1], want_grads[1]}}) {
    const double worst = (g.to(torch::kDouble) - w).abs().max().item<double>();
    const double largest = w.abs().max().item<double>();
    EXPECT_LE(worst, c.tolerance * largest) << name;
  }
  EXPECT_EQ(got_grads[0].scalar_type(), c.in);
  EXPECT_EQ(got_grads[1].scalar_type(), torch::kFloat);
}

// fp32 keeps float rounding; a bf16 output or input gradient rounds to 8
// bits of mantissa.
INSTANTIATE_TEST_SUITE_P(
    Cases, NormRopeTest,
    ::testing::Values(Case{true, true, torch::kFloat, torch::kFloat, 2e-5},
                      Case{false, true, torch::kFloat, torch::kFloat, 2e-5},
                      Case{true, false, torch::kFloat, torch::kFloat, 2e-5},
                      Case{false, false, torch::kFloat, torch::kFloat, 2e-5},
                      Case{true, true, torch::kBFloat16, torch::kFloat, 8e-3},
                      Case{true, true, torch::kBFloat16, torch::kBFloat16, 1.6e-2},
                      Case{false, true, torch::kHalf, torch::kHalf, 2e-3},
                      // Rows of the fp32 residual stream into the product's bf16.
                      Case{true, false, torch::kFloat, torch::kBFloat16, 8e-3, 1, 96},
                      Case{false, false, torch::kFloat, torch::kHalf, 2e-3, 1, 96}));

TEST(NormRopeCheckTest, TheProcessCheckPassesOnTheCpu) {
  EXPECT_EQ(NormRopeMismatch(torch::kCPU), "");
}

TEST(NormRopeCheckTest, AppliesOnlyToWhatItComputes) {
  const torch::Tensor x = torch::randn({2, 5, 3, 8});
  EXPECT_TRUE(NormRopeApplies(x));
  EXPECT_FALSE(NormRopeApplies(x.to(torch::kDouble)));
  EXPECT_FALSE(NormRopeApplies(x.transpose(2, 3)));  // last dimension strided
  EXPECT_FALSE(NormRopeApplies(torch::randn({2, 5, 3, 7})));
  EXPECT_FALSE(NormRopeApplies(torch::randn({5, 3, 8})));
}

// A block's residual add and pre-norm in one op: the sum, the normed rows
// and the gradients of base, delta and scale, against the add and the norm
// written out in double, the sum's own gradient included.
struct AddCase {
  bool center;
  torch::ScalarType delta, out;
  double tolerance;  // relative to the largest value
};

class AddNormTest : public ::testing::TestWithParam<AddCase> {};

TEST_P(AddNormTest, MatchesTheAddAndTheNormAndTheirGradients) {
  const AddCase c = GetParam();
  torch::manual_seed(9);
  const int64_t d = 96;
  const torch::Tensor base = (torch::randn({2, 37, 1, d}) * 2 + 0.5).requires_grad_(true);
  const torch::Tensor delta = torch::randn({2, 37, 1, d}).to(c.delta).requires_grad_(true);
  const torch::Tensor scale = (torch::rand({d}) + 0.5).requires_grad_(true);
  const torch::Tensor grad_sum = torch::randn({2, 37, 1, d}, torch::kDouble);
  const torch::Tensor grad_out = torch::randn({2, 37, 1, d}, torch::kDouble).to(c.out);
  ASSERT_TRUE(AddNormApplies(base, delta));
  const auto [sum, got] = AddNorm(base, delta, scale, c.center, 1e-5, c.out);
  EXPECT_EQ(sum.scalar_type(), torch::kFloat);
  EXPECT_EQ(got.scalar_type(), c.out);
  const auto got_grads = torch::autograd::grad({sum, got}, {base, delta, scale},
                                               {grad_sum.to(torch::kFloat), grad_out});

  std::vector<torch::Tensor> ref;
  for (const torch::Tensor& t : {base, delta, scale}) {
    ref.push_back(t.detach().to(torch::kDouble).requires_grad_(true));
  }
  const torch::Tensor want_sum = ref[0] + ref[1];
  const torch::Tensor want = Separate(want_sum, ref[2], {}, {}, c.center);
  const auto want_grads =
      torch::autograd::grad({want_sum, want}, ref, {grad_sum, grad_out.to(torch::kDouble)});
  for (const auto& [name, g, w] : {std::tuple{"sum", sum, want_sum},
                                   std::tuple{"output", got, want},
                                   std::tuple{"dbase", got_grads[0], want_grads[0]},
                                   std::tuple{"ddelta", got_grads[1], want_grads[1]},
                                   std::tuple{"dscale", got_grads[2], want_grads[2]}}) {
    const double worst = (g.to(torch::kDouble) - w).abs().max().item<double>();
    EXPECT_LE(worst, c.tolerance * w.abs().max().item<double>()) << name;
  }
  EXPECT_EQ(got_grads[1].scalar_type(), c.delta);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, AddNormTest,
    ::testing::Values(AddCase{true, torch::kFloat, torch::kFloat, 2e-5},
                      AddCase{false, torch::kFloat, torch::kFloat, 2e-5},
                      AddCase{true, torch::kBFloat16, torch::kBFloat16, 1.6e-2},
                      AddCase{false, torch::kBFloat16, torch::kBFloat16, 1.6e-2},
                      AddCase{true, torch::kHalf, torch::kFloat, 2e-3}));

// Only the sum used (the normed rows' gradient undefined): the sum's
// gradient passes to base and delta as the add's would.
TEST(AddNormCheckTest, AnUnusedNormPassesTheSumsGradient) {
  const torch::Tensor base = torch::randn({1, 4, 1, 8}).requires_grad_(true);
  const torch::Tensor delta = torch::randn({1, 4, 1, 8}).requires_grad_(true);
  const auto [sum, normed] = AddNorm(base, delta, torch::ones({8}), true, 1e-5, torch::kFloat);
  const torch::Tensor g = torch::randn({1, 4, 1, 8});
  const auto grads = torch::autograd::grad({sum}, {base, delta}, {g});
  EXPECT_TRUE(torch::allclose(grads[0], g, 1e-6, 1e-6));
  EXPECT_TRUE(torch::allclose(grads[1], g, 1e-6, 1e-6));
}

TEST(AddNormCheckTest, TheProcessCheckPassesOnTheCpu) {
  EXPECT_EQ(AddNormMismatch(torch::kCPU), "");
}

TEST(AddNormCheckTest, AppliesOnlyToRowsOfTheFp32Stream) {
  const torch::Tensor base = torch::randn({2, 5, 1, 8});
  const torch::Tensor delta = torch::randn({2, 5, 1, 8}).to(torch::kBFloat16);
  EXPECT_TRUE(AddNormApplies(base, delta));
  EXPECT_FALSE(AddNormApplies(base.to(torch::kBFloat16), delta));  // the stream is fp32
  EXPECT_FALSE(AddNormApplies(torch::randn({2, 5, 3, 8}), torch::randn({2, 5, 3, 8})));
  EXPECT_FALSE(AddNormApplies(base, torch::randn({2, 5, 1, 4})));
  EXPECT_FALSE(AddNormApplies(base, delta.to(torch::kDouble)));
  setenv("SPACEBYTE_FUSED_ADD_NORM", "0", 1);
  EXPECT_FALSE(AddNormApplies(base, delta));
  unsetenv("SPACEBYTE_FUSED_ADD_NORM");
}

// On a GPU: the process's check, then problems large enough that every
// backward block loops over several vectors and adds its share of the
// scale's gradient atomically, against the CPU loop on the same inputs:
// head vectors (bf16, turned) and rows of the residual stream (fp32 into
// bf16), at widths that fill each lane's pairs and one that leaves some
// lanes idle (96).
TEST(NormRopeCudaTest, MatchesTheCpuLoopOnCuda) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const torch::Device cuda(torch::kCUDA, 0);
  ASSERT_EQ(NormRopeMismatch(cuda), "");
  torch::manual_seed(11);
  struct Shape {
    int64_t heads, d;
    bool rope;
    torch::ScalarType in;
  };
  for (const Shape& shape : {Shape{12, 64, true, torch::kBFloat16},
                             Shape{12, 128, true, torch::kBFloat16},
                             Shape{1, 96, false, torch::kFloat},
                             Shape{1, 384, false, torch::kFloat},
                             Shape{1, 768, false, torch::kFloat},
                             Shape{1, 1024, false, torch::kFloat}}) {
    const int64_t d = shape.d, length = 1500 * 12 / shape.heads;
    for (const bool center : {true, false}) {
      const torch::Tensor qkv =
          (torch::randn({2, length, 3, shape.heads, d}) * 2 + 0.5).to(shape.in);
      const torch::Tensor scale = torch::rand({d}) + 0.5;
      const torch::Tensor angle = torch::rand({length, d / 2}) * 6.3;
      const torch::Tensor cos = shape.rope ? angle.cos() : torch::Tensor();
      const torch::Tensor sin = shape.rope ? angle.sin() : torch::Tensor();
      const torch::Tensor grad = torch::randn({2, length, shape.heads, d}).to(torch::kBFloat16);
      std::vector<torch::Tensor> results[2];
      for (const torch::Device device : {torch::Device(torch::kCPU), cuda}) {
        const torch::Tensor x = qkv.to(device).select(2, 0).detach().requires_grad_(true);
        ASSERT_TRUE(NormRopeApplies(x)) << device;
        const torch::Tensor s = scale.to(device).requires_grad_(true);
        const torch::Tensor y =
            NormRope(x, s, shape.rope ? cos.to(device) : cos, shape.rope ? sin.to(device) : sin,
                     center, 1e-5, torch::kBFloat16);
        const auto grads = torch::autograd::grad({y}, {x, s}, {grad.to(device)});
        results[device.is_cuda()] = {y.cpu().to(torch::kFloat), grads[0].cpu().to(torch::kFloat),
                                     grads[1].cpu()};
      }
      for (size_t i = 0; i < 3; ++i) {
        const torch::Tensor& want = results[0][i];
        const double worst = (results[1][i] - want).abs().max().item<double>();
        EXPECT_LE(worst, 1.6e-2 * want.abs().max().item<double>())
            << "d " << d << (center ? " LayerNorm" : " RMSNorm") << " result " << i;
      }
    }
  }
}

// On a GPU: the residual add and pre-norm kernel against the CPU path on the
// same inputs, at the local and global widths of the 1e19 shapes and one
// that leaves lanes idle.
TEST(AddNormCudaTest, MatchesTheCpuPathOnCuda) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const torch::Device cuda(torch::kCUDA, 0);
  ASSERT_EQ(AddNormMismatch(cuda), "");
  torch::manual_seed(13);
  for (const int64_t d : {96, 384, 768, 1024}) {
    for (const bool center : {true, false}) {
      const torch::Tensor base = torch::randn({2, 3000, 1, d}) * 2 + 0.5;
      const torch::Tensor delta = torch::randn({2, 3000, 1, d}).to(torch::kBFloat16);
      const torch::Tensor scale = torch::rand({d}) + 0.5;
      const torch::Tensor grad_sum = torch::randn({2, 3000, 1, d});
      const torch::Tensor grad_out = torch::randn({2, 3000, 1, d}).to(torch::kBFloat16);
      std::vector<torch::Tensor> results[2];
      for (const torch::Device device : {torch::Device(torch::kCPU), cuda}) {
        const torch::Tensor b = base.to(device).requires_grad_(true);
        const torch::Tensor e = delta.to(device).requires_grad_(true);
        const torch::Tensor s = scale.to(device).requires_grad_(true);
        ASSERT_TRUE(AddNormApplies(b, e)) << device;
        const auto [sum, y] = AddNorm(b, e, s, center, 1e-5, torch::kBFloat16);
        const auto grads = torch::autograd::grad({sum, y}, {b, e, s},
                                                 {grad_sum.to(device), grad_out.to(device)});
        results[device.is_cuda()] = {sum.cpu(), y.cpu().to(torch::kFloat), grads[0].cpu(),
                                     grads[1].cpu().to(torch::kFloat), grads[2].cpu()};
      }
      for (size_t i = 0; i < results[0].size(); ++i) {
        const torch::Tensor& want = results[0][i];
        const double worst = (results[1][i] - want).abs().max().item<double>();
        EXPECT_LE(worst, 1.6e-2 * want.abs().max().item<double>())
            << "d " << d << (center ? " LayerNorm" : " RMSNorm") << " result " << i;
      }
    }
  }
}

}  // namespace
}  // namespace spacebyte::trainer
