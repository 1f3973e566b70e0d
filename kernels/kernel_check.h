#ifndef SPACEBYTE_KERNELS_KERNEL_CHECK_H_
#define SPACEBYTE_KERNELS_KERNEL_CHECK_H_

// The once-per-process check of a kernel that has a slower, trusted
// fallback (FlashAttention's sliding window, the fused Q/K norm and RoPE):
// run it once per kernel and device, remember the answer, and say once on
// stderr why the fallback is taken.

#include <functional>
#include <string>

#include <torch/torch.h>

namespace spacebyte::trainer {

// Whether `check` found nothing wrong (returned "") on `device`; it runs on
// the first call for this `kernel` and device only. A failure, or an
// exception it throws, is reported as "spacebyte: KERNEL failed its check
// on DEVICE (WHAT); using FALLBACK".
bool PassesCheckOnce(const std::string& kernel, const torch::Device& device,
                     const std::function<std::string()>& check, const std::string& fallback);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_KERNELS_KERNEL_CHECK_H_
