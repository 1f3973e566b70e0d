#include "kernels/autocast.h"

#include <torch/version.h>

#if TORCH_VERSION_MAJOR >= 2
#include <ATen/autocast_mode.h>
#endif

namespace spacebyte::trainer {

#if TORCH_VERSION_MAJOR >= 2
namespace {

// The autocast API took a device type argument in LibTorch 2.4.
#if TORCH_VERSION_MAJOR > 2 || TORCH_VERSION_MINOR >= 4
void SetAutocast(c10::DeviceType device, bool on) {
  at::autocast::set_autocast_dtype(device, at::kBFloat16);
  at::autocast::set_autocast_enabled(device, on);
}
bool IsAutocast(c10::DeviceType device) { return at::autocast::is_autocast_enabled(device); }
#else
void SetAutocast(c10::DeviceType device, bool on) {
  if (device == at::kCUDA) {
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    at::autocast::set_enabled(on);
  } else {
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::set_cpu_enabled(on);
  }
}
bool IsAutocast(c10::DeviceType device) {
  return device == at::kCUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
}
#endif

}  // namespace

Autocast::Autocast(c10::DeviceType device, bool bf16) {
  if (!bf16) return;
  on_ = device;
  was_on_ = IsAutocast(device);
  SetAutocast(device, true);
  at::autocast::increment_nesting();
}

Autocast::~Autocast() {
  if (!on_) return;
  // Casted weights are cached for the nesting's lifetime: one forward.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  SetAutocast(*on_, was_on_);
}

std::optional<c10::DeviceType> Autocast::Active() {
  for (c10::DeviceType d : {at::kCUDA, at::kCPU}) {
    if (IsAutocast(d)) return d;
  }
  return std::nullopt;
}
#else
// LibTorch 1.13: float32 throughout (RunSpec refuses bf16).
Autocast::Autocast(c10::DeviceType, bool) {}
Autocast::~Autocast() = default;
std::optional<c10::DeviceType> Autocast::Active() { return std::nullopt; }
#endif

}  // namespace spacebyte::trainer
