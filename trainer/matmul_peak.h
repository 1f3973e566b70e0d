#ifndef SPACEBYTE_TRAINER_MATMUL_PEAK_H_
#define SPACEBYTE_TRAINER_MATMUL_PEAK_H_

#include <torch/torch.h>

namespace spacebyte::trainer {

// GFLOP/s of a large float32 matrix product on `device`, measured now (about
// `seconds` long): the denominator of MFU, taken in the same run. With
// `per_cpu_second`, also stores GFLOP per second of process CPU time (all
// threads), which holds still when other processes share the cores.
double MeasureMatmulPeakGflops(const torch::Device& device, double seconds = 0.5,
                               double* per_cpu_second = nullptr);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_TRAINER_MATMUL_PEAK_H_
