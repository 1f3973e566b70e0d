#include "trainer/matmul_peak.h"

#include <chrono>

namespace spacebyte::trainer {

double MeasureMatmulPeakGflops(const torch::Device& device, double seconds) {
  const int64_t n = device.is_cuda() ? 8192 : 2048;
  const auto opts = torch::TensorOptions().device(device);
  const torch::Tensor a = torch::randn({n, n}, opts), b = torch::randn({n, n}, opts);
  torch::Tensor c = torch::mm(a, b);  // warm-up
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  int64_t reps = 0;
  double elapsed = 0;
  while (elapsed < seconds) {
    c = torch::mm(a, b);
    ++reps;
    (void)c.sum().item<float>();  // waits for the device
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  }
  return 2.0 * n * n * n * reps / elapsed / 1e9;
}

}  // namespace spacebyte::trainer
