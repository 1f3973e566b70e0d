#include "trainer/cuda_autocast.h"

#include <torch/version.h>

#if TORCH_VERSION_MAJOR >= 2
#include <ATen/autocast_mode.h>
#endif

namespace spacebyte::trainer {

#if TORCH_VERSION_MAJOR >= 2
namespace {

// The autocast API took a device type argument in LibTorch 2.4.
void SetCudaAutocast(bool on) {
#if TORCH_VERSION_MAJOR > 2 || TORCH_VERSION_MINOR >= 4
  at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
  at::autocast::set_autocast_enabled(at::kCUDA, on);
#else
  at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
  at::autocast::set_enabled(on);
#endif
}

}  // namespace

CudaAutocast::CudaAutocast(const torch::Device& device) : on_(device.is_cuda()) {
  if (!on_) return;
  SetCudaAutocast(true);
  at::autocast::increment_nesting();
}

CudaAutocast::~CudaAutocast() {
  if (!on_) return;
  // Casted weights are cached for the nesting's lifetime: one forward.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  SetCudaAutocast(false);
}
#else
// LibTorch 1.13 (the CPU build here): float32 throughout.
CudaAutocast::CudaAutocast(const torch::Device&) {}
CudaAutocast::~CudaAutocast() = default;
#endif

}  // namespace spacebyte::trainer
