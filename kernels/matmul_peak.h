#ifndef SPACEBYTE_KERNELS_MATMUL_PEAK_H_
#define SPACEBYTE_KERNELS_MATMUL_PEAK_H_

#include <torch/torch.h>

namespace spacebyte::trainer {

// GFLOP/s of a large matrix product of `dtype` on `device`, measured now (about
// `seconds` long): the denominator of MFU, taken in the same run. With
// `per_cpu_second`, also stores GFLOP per second of process CPU time (all
// threads), which holds still when other processes share the cores.
double MeasureMatmulPeakGflops(const torch::Device& device,
                               torch::ScalarType dtype = torch::kFloat, double seconds = 0.5,
                               double* per_cpu_second = nullptr);

// The denominator of a run's MFU: on a GPU in our table its datasheet dense
// bf16 peak, elsewhere the product measured now (in bf16 when `bf16`).
double MfuPeakGflops(const torch::Device& device, bool bf16);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_KERNELS_MATMUL_PEAK_H_
