#include "model/layers.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace spacebyte::trainer {
namespace {

// In bf16 (autocast, or RMSNorm under autocast, hands RoPE half-precision
// queries) integers are exact only up to 256, so positions and angles must
// not be formed in x's dtype: at the 1e19 shapes' 6,144 bytes they would be
// off by tens of radians. The result may differ from the fp32 one only by
// bf16 rounding of the output.
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

}  // namespace
}  // namespace spacebyte::trainer
