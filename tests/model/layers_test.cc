#include "model/layers.h"

#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <torch/version.h>

#include "kernels/autocast.h"

namespace spacebyte::trainer {
namespace {

// Under CPU autocast the Q/K LayerNorms return bf16, so RoPE gets bf16
// queries. bf16 holds integers exactly only up to 256, so positions and
// angles must not be formed in x's dtype: at the 1e19 shapes' 6,144 bytes
// they would be off by radians. The result may differ from the fp32 one
// only by bf16 rounding of the output.
TEST(RopeTest, HalfPrecisionInputGetsFullPrecisionAngles) {
  torch::manual_seed(0);
  const torch::Tensor x = torch::randn({1, 6144, 2, 16});
  for (const int64_t offset : {0, 3000}) {
    const torch::Tensor exact = ApplyRope(x, offset);
    const torch::Tensor half = ApplyRope(x.to(torch::kBFloat16), offset);
    EXPECT_EQ(half.scalar_type(), torch::kBFloat16);
    const double worst = (half.to(torch::kFloat) - exact).abs().max().item<double>();
    EXPECT_LT(worst, 0.05) << "offset " << offset;
  }
}

// Rotation keeps each pair's length, and position 0 is the identity.
TEST(RopeTest, RotatesPairsByPosition) {
  torch::manual_seed(1);
  const torch::Tensor x = torch::randn({2, 5, 3, 8});
  const torch::Tensor y = ApplyRope(x);
  EXPECT_TRUE(torch::allclose(y.select(1, 0), x.select(1, 0)));
  const auto pair_norm = [](const torch::Tensor& t) {
    return t.unflatten(-1, {4, 2}).pow(2).sum(-1);
  };
  EXPECT_TRUE(torch::allclose(pair_norm(y), pair_norm(x), 1e-5, 1e-5));
  // Pair 0 turns by one radian per position.
  const double angle = std::atan2(y[0][1][0][1].item<double>(), y[0][1][0][0].item<double>()) -
                       std::atan2(x[0][1][0][1].item<double>(), x[0][1][0][0].item<double>());
  EXPECT_NEAR(std::remainder(angle, 2 * M_PI), 1.0, 1e-5);
}

// The complex product against the pair formula written out in double:
// values and the gradient backward carries through the rotation, for a
// window of positions that starts mid-sequence (as incremental decoding
// does).
TEST(RopeTest, ComplexProductIsThePairFormulaWithItsGradient) {
  torch::manual_seed(3);
  const int64_t offset = 700;
  const torch::Tensor x = torch::randn({2, 9, 3, 8}, torch::requires_grad());
  const torch::Tensor y = ApplyRope(x, offset);
  const torch::Tensor grad_y = torch::randn_like(y);
  const torch::Tensor grad_x = torch::autograd::grad({y}, {x}, {grad_y})[0];

  const auto x64 = x.detach().to(torch::kDouble);
  const auto gy64 = grad_y.to(torch::kDouble);
  const auto pos = torch::arange(offset, offset + 9, torch::kDouble).view({1, 9, 1, 1});
  const auto freq = torch::pow(10000.0, -torch::arange(0, 8, 2, torch::kDouble) / 8.0);
  const auto angle = pos * freq, cos = angle.cos(), sin = angle.sin();
  const auto even = x64.slice(-1, 0, 8, 2), odd = x64.slice(-1, 1, 8, 2);
  const auto want = torch::stack({even * cos - odd * sin, even * sin + odd * cos}, -1).flatten(-2);
  // Backward is the inverse rotation of the output gradient.
  const auto ge = gy64.slice(-1, 0, 8, 2), go = gy64.slice(-1, 1, 8, 2);
  const auto want_grad = torch::stack({ge * cos + go * sin, go * cos - ge * sin}, -1).flatten(-2);
  // fp32 angles at position 700 are off by about 1e-4 radians.
  EXPECT_LT((y.detach().to(torch::kDouble) - want).abs().max().item<double>(), 1e-3);
  EXPECT_LT((grad_x.to(torch::kDouble) - want_grad).abs().max().item<double>(), 1e-3);
}

// Windowed attention with RoPE under CPU bf16 autocast, with either norm,
// against the same layer in fp32. Under autocast RMSNorm returns float
// queries and keys beside bfloat16 values, which the float-only band
// kernel must not take.
TEST(AttentionTest, RunsUnderCpuAutocastWithEitherNorm) {
  if (TORCH_VERSION_MAJOR < 2) GTEST_SKIP() << "bf16 autocast needs LibTorch >= 2";
  for (const NormKind norm : {NormKind::kLayerNorm, NormKind::kRMSNorm}) {
    ModelSpec spec;
    spec.d_key = 16;
    spec.rope = true;
    spec.norm = norm;
    torch::manual_seed(2);
    Attention attention(64, spec, /*window=*/24);
    const torch::Tensor x = torch::randn({2, 300, 64});
    torch::NoGradGuard no_grad;
    const torch::Tensor exact = attention(x);
    torch::Tensor half;
    {
      Autocast autocast(torch::kCPU, true);
      half = attention(x);
    }
    const double scale = exact.abs().max().item<double>();
    EXPECT_LT((half.to(torch::kFloat) - exact).abs().max().item<double>(), 0.05 * scale)
        << (norm == NormKind::kRMSNorm ? "rmsnorm" : "layernorm");
  }
}

// On CUDA a block's pre-norm runs as one fused op (the grad_fn under the
// squeeze says which) that hands the product bf16 under autocast, except
// for a product split over tensor-parallel ranks; values and gradients
// match the norm's within bf16 rounding.
TEST(NormTest, BeforeProductOnCudaIsOnePassIntoTheProductsDtype) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  for (const NormKind kind : {NormKind::kLayerNorm, NormKind::kRMSNorm}) {
    torch::manual_seed(3);
    Norm norm(768, kind);
    norm->to(torch::kCUDA);
    {
      torch::NoGradGuard no_grad;
      norm->scale().uniform_(0.5, 1.5);
    }
    const torch::Tensor x =
        (torch::randn({2, 64, 768}, torch::kCUDA) * 2 + 1).requires_grad_(true);
    const torch::Tensor grad = torch::randn({2, 64, 768}, torch::kCUDA);
    const torch::Tensor want = norm(x);
    const auto want_grads = torch::autograd::grad({want}, {x, norm->scale()}, {grad});
    Autocast autocast(torch::kCUDA, true);
    const torch::Tensor got = norm->BeforeProduct(x, /*fp32_grad=*/false);
    EXPECT_EQ(got.scalar_type(), torch::kBFloat16);
    EXPECT_EQ(norm->BeforeProduct(x, /*fp32_grad=*/true).scalar_type(), torch::kFloat);
    ASSERT_TRUE(got.grad_fn() != nullptr && got.grad_fn()->next_edges().size() == 1);
    const std::string op = got.grad_fn()->next_edges()[0].function->name();
    EXPECT_NE(op.find("NormRope"), std::string::npos) << op;
    const auto got_grads =
        torch::autograd::grad({got}, {x, norm->scale()}, {grad.to(torch::kBFloat16)});
    const std::vector<std::pair<torch::Tensor, torch::Tensor>> pairs = {
        {got, want}, {got_grads[0], want_grads[0]}, {got_grads[1], want_grads[1]}};
    for (const auto& [g, w] : pairs) {
      EXPECT_LT((g.to(torch::kFloat) - w).abs().max().item<double>(),
                0.02 * w.abs().max().item<double>());
    }
  }
}

// On CUDA under autocast the feed-forward's ReLU runs in its first
// product's epilogue (kernels/linear_relu.h); switched off, linear and ReLU
// apart give the same values and gradients within bf16 rounding.
TEST(FeedForwardTest, ReluInTheEpilogueOnCudaMatchesLinearAndRelu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::manual_seed(4);
  ModelSpec spec;
  FeedForward ff(256, spec);
  ff->to(torch::kCUDA);
  const torch::Tensor x = torch::randn({2, 100, 256}, torch::kCUDA).requires_grad_(true);
  auto run = [&] {
    Autocast autocast(torch::kCUDA, true);
    const torch::Tensor y = ff(x);
    const auto grads = torch::autograd::grad({y.to(torch::kFloat).square().sum()},
                                             {x, ff->named_parameters()["linear_1.weight"]});
    return std::vector<torch::Tensor>{y.to(torch::kFloat), grads[0], grads[1]};
  };
  const std::vector<torch::Tensor> fused = run();
  setenv("SPACEBYTE_FUSED_LINEAR_RELU", "0", 1);
  const std::vector<torch::Tensor> apart = run();
  unsetenv("SPACEBYTE_FUSED_LINEAR_RELU");
  for (size_t i = 0; i < fused.size(); ++i) {
    EXPECT_LT((fused[i] - apart[i]).abs().max().item<double>(),
              1e-2 * apart[i].abs().max().item<double>())
        << "result " << i;
  }
}

// A stack hands each block's last add to the next block's first pre-norm;
// on the CPU, where that add is its own op, the stack gives bit for bit
// what the blocks run one by one give, each summing its own stream.
TEST(BlockStackTest, PendingAddsGiveWhatTheBlocksGiveOneByOne) {
  torch::manual_seed(5);
  ModelSpec spec;
  spec.d_key = 16;
  BlockStack stack(3, 64, spec, /*window=*/8);
  const torch::Tensor x = torch::randn({2, 20, 64});
  torch::Tensor want = x;
  for (size_t i = 0; i < stack->size(); ++i) want = stack[i]->forward(want);
  EXPECT_TRUE(torch::equal(stack(x), want));
}

// Whether `name` is among the ops that `y`'s gradient passes through.
bool InGraph(const torch::Tensor& y, const std::string& name) {
  std::vector<torch::autograd::Node*> todo = {y.grad_fn().get()};
  std::set<torch::autograd::Node*> seen;
  while (!todo.empty()) {
    torch::autograd::Node* node = todo.back();
    todo.pop_back();
    if (node == nullptr || !seen.insert(node).second) continue;
    if (node->name().find(name) != std::string::npos) return true;
    for (const auto& edge : node->next_edges()) todo.push_back(edge.function.get());
  }
  return false;
}

// The CUDA path's wiring, run on the CPU: with the fused pre-norms on, a
// stack's residual adds and pre-norms go through AddNorm and NormRope, in
// fp32 and under bf16 autocast, with and without activation checkpointing
// (whose blocks keep their own adds), and give the separate ops' values
// and gradients.
TEST(BlockStackTest, FusedPreNormsOnTheCpuMatchTheSeparateOps) {
  torch::manual_seed(8);
  ModelSpec spec;
  spec.d_key = 16;
  BlockStack stack(3, 64, spec, /*window=*/8);
  const torch::Tensor x = torch::randn({2, 20, 64}).requires_grad_(true);
  auto run = [&](bool fused, bool bf16, bool checkpointing) {
    SetFusedPreNormsOnCpu(fused);
    stack->set_checkpointing(checkpointing);
    Autocast autocast(torch::kCPU, bf16);
    const torch::Tensor y = stack(x);
    EXPECT_EQ(InGraph(y, "AddNorm"), fused && !checkpointing);
    // backward, not grad: a checkpointed block's parameters get theirs in
    // its nested backward.
    stack->zero_grad();
    x.mutable_grad() = torch::Tensor();
    y.to(torch::kFloat).square().sum().backward();
    SetFusedPreNormsOnCpu(false);
    const auto params = stack->named_parameters();
    return std::vector<torch::Tensor>{y.to(torch::kFloat).detach(), x.grad().clone(),
                                      params["1.feedforward.layer_norm.scale"].grad().clone(),
                                      params["2.attention.QKV_linear.weight"].grad().clone()};
  };
  for (const bool bf16 : {false, true}) {
    for (const bool checkpointing : {false, true}) {
      const std::vector<torch::Tensor> fused = run(true, bf16, checkpointing);
      const std::vector<torch::Tensor> apart = run(false, bf16, checkpointing);
      for (size_t i = 0; i < fused.size(); ++i) {
        EXPECT_LT((fused[i] - apart[i]).abs().max().item<double>(),
                  (bf16 ? 2e-2 : 1e-5) * apart[i].abs().max().item<double>())
            << (bf16 ? "bf16" : "fp32") << (checkpointing ? " checkpointed" : "") << " result "
            << i;
      }
    }
  }
}

// On CUDA under autocast the stack's residual adds run inside the
// pre-norms after them (kernels/norm_rope.h's AddNorm); switched off, the
// adds and norms apart give the same values and gradients within bf16
// rounding.
TEST(BlockStackTest, ResidualAddsInThePreNormsOnCudaMatchTheSeparateOps) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::manual_seed(6);
  ModelSpec spec;
  BlockStack stack(3, 768, spec, /*window=*/32);
  stack->to(torch::kCUDA);
  const torch::Tensor x = torch::randn({2, 100, 768}, torch::kCUDA).requires_grad_(true);
  auto run = [&](bool fused) {
    Autocast autocast(torch::kCUDA, true);
    const torch::Tensor y = stack(x);
    EXPECT_EQ(InGraph(y, "AddNorm"), fused);
    const auto grads = torch::autograd::grad(
        {y.to(torch::kFloat).square().sum()},
        {x, stack->named_parameters()["1.attention.layer_norm.scale"]});
    return std::vector<torch::Tensor>{y.to(torch::kFloat), grads[0], grads[1]};
  };
  const std::vector<torch::Tensor> fused = run(true);
  setenv("SPACEBYTE_FUSED_ADD_NORM", "0", 1);
  const std::vector<torch::Tensor> apart = run(false);
  unsetenv("SPACEBYTE_FUSED_ADD_NORM");
  for (size_t i = 0; i < fused.size(); ++i) {
    EXPECT_LT((fused[i] - apart[i]).abs().max().item<double>(),
              2e-2 * apart[i].abs().max().item<double>())
        << "result " << i;
  }
}

}  // namespace
}  // namespace spacebyte::trainer
