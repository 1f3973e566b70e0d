// The CPU band kernel equals attention through a dense band mask, forward and
// backward, on strided [B, L, H, d] views like the ones a fused QKV makes.

#include "kernels/band_attention_cpu.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "kernels/attention_kernels.h"

namespace spacebyte::trainer {
namespace {

struct Case {
  int64_t length, window;  // window < 0: plain causal
};

class BandAttentionCpuTest : public ::testing::TestWithParam<Case> {};

TEST_P(BandAttentionCpuTest, MatchesMaskedFullAttention) {
  torch::manual_seed(11);
  const auto [length, window] = GetParam();
  const int64_t batch = 2, heads = 3, d = 8;
  // q, k, v as views into one [B, L, 3, H, d] tensor, as the model has them.
  const torch::Tensor qkv =
      torch::randn({batch, length, 3, heads, d}, torch::dtype(torch::kDouble)).requires_grad_(true);
  const std::vector<torch::Tensor> parts = qkv.unbind(2);
  const torch::Tensor grad = torch::randn({batch, length, heads, d}, torch::kDouble);

  const torch::Tensor fast = BandAttentionCpu(parts[0], parts[1], parts[2], window);
  const torch::Tensor fast_grad = torch::autograd::grad({fast}, {qkv}, {grad})[0];
  auto heads_first = [](const torch::Tensor& x) { return x.transpose(1, 2); };
  const torch::Tensor slow = heads_first(
      MaskedAttention(heads_first(parts[0]), heads_first(parts[1]), heads_first(parts[2]), window));
  const torch::Tensor slow_grad = torch::autograd::grad({slow}, {qkv}, {grad})[0];

  EXPECT_TRUE(torch::allclose(fast, slow, 1e-10, 1e-10));
  EXPECT_TRUE(torch::allclose(fast_grad, slow_grad, 1e-10, 1e-10));
}

INSTANTIATE_TEST_SUITE_P(Shapes, BandAttentionCpuTest,
                         ::testing::Values(Case{64, 16}, Case{61, 16}, Case{50, 7}, Case{9, 8},
                                           Case{30, 1}, Case{100, 33}, Case{200, 128},
                                           Case{333, 130}, Case{130, 0}, Case{96, -1},
                                           Case{150, -1}, Case{1, -1}));

// The band kernel against the paths CUDA (and bf16 on the CPU) take: with
// LibTorch 2 both run through at::scaled_dot_product_attention, the causal
// one as is_causal (its fused kernel), the windowed one in chunks.
TEST(BandAttentionCpuTest, MatchesTheSdpaPaths) {
  torch::manual_seed(5);
  const auto opts = torch::dtype(torch::kDouble);
  const torch::Tensor q = torch::randn({2, 300, 3, 16}, opts);
  const torch::Tensor k = torch::randn({2, 300, 3, 16}, opts);
  const torch::Tensor v = torch::randn({2, 300, 3, 16}, opts);
  auto heads_first = [](const torch::Tensor& x) { return x.transpose(1, 2).contiguous(); };
  const torch::Tensor causal =
      CausalAttention(heads_first(q), heads_first(k), heads_first(v)).transpose(1, 2);
  EXPECT_TRUE(torch::allclose(BandAttentionCpu(q, k, v, -1), causal, 1e-10, 1e-10));
  const torch::Tensor windowed =
      WindowedAttention(heads_first(q), heads_first(k), heads_first(v), 70).transpose(1, 2);
  EXPECT_TRUE(torch::allclose(BandAttentionCpu(q, k, v, 70), windowed, 1e-10, 1e-10));
}

TEST(BandAttentionCpuTest, FloatMatchesDouble) {
  torch::manual_seed(3);
  const torch::Tensor q = torch::randn({2, 200, 2, 16}), k = torch::randn({2, 200, 2, 16});
  const torch::Tensor v = torch::randn({2, 200, 2, 16});
  const torch::Tensor f = BandAttentionCpu(q, k, v, 40);
  const torch::Tensor d =
      BandAttentionCpu(q.to(torch::kDouble), k.to(torch::kDouble), v.to(torch::kDouble), 40);
  EXPECT_TRUE(torch::allclose(f.to(torch::kDouble), d, 1e-5, 1e-5));
}

}  // namespace
}  // namespace spacebyte::trainer
