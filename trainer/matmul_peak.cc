#include "trainer/matmul_peak.h"

#include <chrono>

#include "trainer/phase_timer.h"

namespace spacebyte::trainer {

double MeasureMatmulPeakGflops(const torch::Device& device, double seconds,
                               double* per_cpu_second) {
  const int64_t n = device.is_cuda() ? 8192 : 2048;
  const auto opts = torch::TensorOptions().device(device);
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

}  // namespace spacebyte::trainer
