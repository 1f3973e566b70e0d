#include "kernels/matmul_peak.h"

#include <chrono>

#include "kernels/cuda_info.h"
#include "kernels/phase_timer.h"

namespace spacebyte::trainer {

double MeasureMatmulPeakGflops(const torch::Device& device, torch::ScalarType dtype,
                               double seconds, double* per_cpu_second) {
  const int64_t n = device.is_cuda() ? 8192 : 2048;
  const auto opts = torch::TensorOptions().device(device).dtype(dtype);
  const torch::Tensor a = torch::randn({n, n}, opts), b = torch::randn({n, n}, opts);
  torch::Tensor c = torch::mm(a, b);  // warm-up
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const double cpu_start = ProcessCpuSeconds();
  int64_t reps = 0;
  double elapsed = 0;
  while (elapsed < seconds) {
    c = torch::mm(a, b);
    ++reps;
    (void)c.sum().item<float>();  // waits for the device
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  }
  const double gflop = 2.0 * n * n * n * reps / 1e9;
  if (per_cpu_second != nullptr) *per_cpu_second = gflop / (ProcessCpuSeconds() - cpu_start);
  return gflop / elapsed;
}

double MfuPeakGflops(const torch::Device& device, bool bf16) {
  if (device.is_cuda()) {
    const std::optional<CudaDeviceInfo> info = DescribeCudaDevice(device.index());
    if (info && info->peak_bf16_tflops) return *info->peak_bf16_tflops * 1e3;
  }
  return MeasureMatmulPeakGflops(device, bf16 ? torch::kBFloat16 : torch::kFloat);
}

}  // namespace spacebyte::trainer
