// Windowed attention (O(T*W) chunks) equals attention through a dense band
// mask, forward and backward.

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "kernels/attention_kernels.h"
#include "kernels/flash_window_attention.h"

namespace spacebyte::trainer {
namespace {

struct Case {
  int64_t length, window;
};

class WindowedAttentionTest : public ::testing::TestWithParam<Case> {};

TEST_P(WindowedAttentionTest, MatchesMaskedFullAttention) {
  torch::manual_seed(7);
  const auto [length, window] = GetParam();
  const auto opts = torch::dtype(torch::kDouble).requires_grad(true);
  const torch::Tensor q = torch::randn({2, 3, length, 8}, opts);
  const torch::Tensor k = torch::randn({2, 3, length, 8}, opts);
  const torch::Tensor v = torch::randn({2, 3, length, 8}, opts);
  const torch::Tensor grad = torch::randn({2, 3, length, 8}, torch::kDouble);

  const torch::Tensor fast = WindowedAttention(q, k, v, window);
  const auto fast_grads = torch::autograd::grad({fast}, {q, k, v}, {grad});
  const torch::Tensor slow = MaskedAttention(q, k, v, window);
  const auto slow_grads = torch::autograd::grad({slow}, {q, k, v}, {grad});

  EXPECT_TRUE(torch::allclose(fast, slow, 1e-10, 1e-10));
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(torch::allclose(fast_grads[i], slow_grads[i], 1e-10, 1e-10)) << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, WindowedAttentionTest,
                         ::testing::Values(Case{64, 16}, Case{61, 16}, Case{50, 7},
                                           Case{9, 8}, Case{30, 1}, Case{100, 33},
                                           // Chunks smaller than the window: 64 rows
                                           // with 3 chunks before, 65 with 2.
                                           Case{700, 192}, Case{333, 130}));

// CUDA's larger chunks (fewer copies of K and V) compute the same thing.
TEST(WindowedAttentionTest, LargerChunksMatchToo) {
  torch::manual_seed(9);
  const auto opts = torch::dtype(torch::kDouble).requires_grad(true);
  const torch::Tensor q = torch::randn({1, 2, 1100, 8}, opts);
  const torch::Tensor k = torch::randn({1, 2, 1100, 8}, opts);
  const torch::Tensor v = torch::randn({1, 2, 1100, 8}, opts);
  for (int64_t window : {300, 768}) {
    EXPECT_TRUE(torch::allclose(WindowedAttention(q, k, v, window, 256),
                                MaskedAttention(q, k, v, window), 1e-10, 1e-10))
        << window;
  }
}

// On CUDA, as evaluation runs it: no gradient, q/k/v transposed views of the
// [B, L, H, d_key] projections, fp32 (where SDPA picks the memory-efficient
// kernel, whose output is a transposed buffer) and bf16.
TEST(WindowedAttentionTest, MatchesOnCudaWithoutGradient) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::manual_seed(11);
  torch::NoGradGuard no_grad;
  for (int64_t length : {1024, 1100}) {
    const torch::Tensor qkv = torch::randn({2, length, 3, 4, 32}, torch::Device(torch::kCUDA));
    const std::vector<torch::Tensor> parts = qkv.unbind(2);
    const torch::Tensor q = parts[0].transpose(1, 2), k = parts[1].transpose(1, 2),
                        v = parts[2].transpose(1, 2);
    const torch::Tensor expect = MaskedAttention(q.cpu().to(torch::kDouble),
                                                 k.cpu().to(torch::kDouble),
                                                 v.cpu().to(torch::kDouble), 256);
    for (const auto& [dtype, tolerance] :
         {std::pair{torch::kFloat, 1e-4}, std::pair{torch::kBFloat16, 3e-2}}) {
      const torch::Tensor out =
          WindowedAttention(q.to(dtype), k.to(dtype), v.to(dtype), 256).cpu().to(torch::kDouble);
      EXPECT_TRUE(torch::allclose(out, expect, tolerance, tolerance))
          << length << " " << dtype << ": max difference "
          << (out - expect).abs().max().item<double>();
    }
  }
}

// FlashAttention's sliding window on CUDA: its self-check passes, and at a
// local block's shape it matches the dense-mask rule forward and backward.
TEST(FlashWindowedAttentionTest, MatchesMaskedAttentionOnCuda) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const torch::Device cuda(torch::kCUDA, 0);
  ASSERT_TRUE(FlashWindowedAttentionWorks(cuda, 64));
  ASSERT_TRUE(FlashWindowedAttentionWorks(cuda, 128)) << "each head width is checked";
  torch::manual_seed(13);
  const auto opts = torch::TensorOptions().device(cuda).dtype(torch::kBFloat16);
  const torch::Tensor q = torch::randn({2, 1100, 4, 64}, opts).requires_grad_(true);
  const torch::Tensor k = torch::randn({2, 1100, 4, 64}, opts).requires_grad_(true);
  const torch::Tensor v = torch::randn({2, 1100, 4, 64}, opts).requires_grad_(true);
  const torch::Tensor grad = torch::randn({2, 1100, 4, 64}, opts.dtype(torch::kFloat));
  for (int64_t window : {1, 300, 768, 2000}) {
    EXPECT_EQ(FlashWindowMismatch(q, k, v, grad, window), "") << window;
  }
}

// fp32 without autocast (evaluation) keeps the exact chunked path; CPU never
// takes the kernel.
TEST(FlashWindowedAttentionTest, AppliesToHalfPrecisionCudaOnly) {
  const torch::Tensor cpu = torch::randn({1, 40, 2, 64}).to(torch::kBFloat16);
  EXPECT_FALSE(FlashWindowedAttention(cpu, cpu, cpu, 8).has_value());
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const torch::Tensor fp32 = torch::randn({1, 40, 2, 64}, torch::Device(torch::kCUDA));
  EXPECT_FALSE(FlashWindowedAttention(fp32, fp32, fp32, 8).has_value());
  const torch::Tensor bf16 = fp32.to(torch::kBFloat16);
  EXPECT_TRUE(FlashWindowedAttention(bf16, bf16, bf16, 8).has_value());
}

TEST(WindowedAttentionTest, WindowLimitsTheKeysSeen) {
  // A value spike at position 0 reaches query p only while p <= window.
  const int64_t length = 12, window = 4;
  const torch::Tensor q = torch::zeros({1, 1, length, 2});
  const torch::Tensor k = torch::zeros({1, 1, length, 2});
  torch::Tensor v = torch::zeros({1, 1, length, 2});
  v[0][0][0][0] = 1.0;
  const torch::Tensor out = WindowedAttention(q, k, v, window).select(-1, 0).flatten();
  for (int64_t p = 0; p < length; ++p) {
    const double expect = p <= window ? 1.0 / (p + 1) : 0.0;
    EXPECT_NEAR(out[p].item<double>(), expect, 1e-6) << p;
  }
}

}  // namespace
}  // namespace spacebyte::trainer
