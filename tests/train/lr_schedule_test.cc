// The schedule of train/lr_schedule.h against values worked out by hand:
// lr(i) = lr * min(1, (i + 1) / warmup) * cos(pi/2 * i / steps).

#include <gtest/gtest.h>

#include "train/lr_schedule.h"

namespace spacebyte::trainer {
namespace {

TEST(LrScheduleTest, WarmupThenHalfCosine) {
  // 200 steps, 1% warmup: warmup = 2 steps.
  EXPECT_DOUBLE_EQ(LearningRateAt(0, 200, 0.01, 0.01), 0.005);  // half ramp, cos 0
  EXPECT_NEAR(LearningRateAt(1, 200, 0.01, 0.01), 0.01 * 0.9999691576, 1e-12);
  EXPECT_NEAR(LearningRateAt(100, 200, 0.01, 0.01), 0.01 * 0.7071067812, 1e-12);
  EXPECT_NEAR(LearningRateAt(199, 200, 0.01, 0.01), 0.01 * 0.0078539009, 1e-12);
}

TEST(LrScheduleTest, LongerWarmupRampsLinearly) {
  // 1000 steps, 10% warmup: 100 ramp steps, times the cosine.
  EXPECT_NEAR(LearningRateAt(0, 1000, 1.0, 0.1), 0.01, 1e-12);
  EXPECT_NEAR(LearningRateAt(49, 1000, 1.0, 0.1), 0.5 * 0.9970393470, 1e-10);
  EXPECT_NEAR(LearningRateAt(99, 1000, 1.0, 0.1), 0.9879328487, 1e-10);
  EXPECT_NEAR(LearningRateAt(500, 1000, 1.0, 0.1), 0.7071067812, 1e-10);
}

TEST(LrScheduleTest, WarmupIsAtLeastOneStep) {
  // 10 steps at 1% would round to 0 warmup steps: the ramp is then 1.
  EXPECT_DOUBLE_EQ(LearningRateAt(0, 10, 2.0, 0.01), 2.0);
  EXPECT_NEAR(LearningRateAt(5, 10, 2.0, 0.01), 2.0 * 0.7071067812, 1e-10);
}

}  // namespace
}  // namespace spacebyte::trainer
