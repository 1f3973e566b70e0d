#include "train/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace spacebyte::trainer {

double LearningRateAt(int64_t step, int64_t steps, double lr, double warmup_fraction) {
  const double warmup = std::max(1.0, std::round(warmup_fraction * steps));
  const double ramp = std::min(1.0, (step + 1) / warmup);
  return lr * ramp * std::cos(M_PI / 2 * static_cast<double>(step) / steps);
}

}  // namespace spacebyte::trainer
