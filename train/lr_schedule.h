#ifndef SPACEBYTE_TRAIN_LR_SCHEDULE_H_
#define SPACEBYTE_TRAIN_LR_SCHEDULE_H_

#include <cstdint>

namespace spacebyte::trainer {

// The reference schedule: linear warmup over the first `warmup_fraction` of
// the steps, times a half cosine over the whole run:
//   lr(i) = lr * min(1, (i + 1) / warmup) * cos(pi/2 * i / steps),
// warmup = max(1, round(warmup_fraction * steps)). Step i counts from 0.
double LearningRateAt(int64_t step, int64_t steps, double lr, double warmup_fraction);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_TRAIN_LR_SCHEDULE_H_
