#ifndef SPACEBYTE_KERNELS_KERNEL_CHECK_H_
#define SPACEBYTE_KERNELS_KERNEL_CHECK_H_

// What a kernel with a slower, trusted fallback (FlashAttention's sliding
// window, the fused norm and RoPE, the product with ReLU in its epilogue)
// needs: a once-per-process check, run once per kernel and device, whose
// answer is remembered and whose failure is said once on stderr; and a
// switch in the environment that keeps the fallback.

#include <functional>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace spacebyte::trainer {

// Whether `check` found nothing wrong (returned "") on `device`; it runs on
// the first call for this `kernel` and device only. A failure, or an
// exception it throws, is reported as "spacebyte: KERNEL failed its check
// on DEVICE (WHAT); using FALLBACK".
bool PassesCheckOnce(const std::string& kernel, const torch::Device& device,
                     const std::function<std::string()>& check, const std::string& fallback);

// A kernel's result beside what the trusted ops give.
struct Compared {
  const char* name;
  torch::Tensor got, want;
};

// "" where each result's shape matches and its values are within bf16
// rounding of what the trusted ops give (0.02 plus 2% of the largest
// value: rounding of outputs, probabilities and gradients stays near 1%);
// otherwise "NAME differs by X > BOUND" for the first that is not.
std::string FirstMismatch(const std::vector<Compared>& results);

// Whether the environment variable `name` is "0": the kernel it names is
// switched off, for a side-by-side on one card or a way round a kernel that
// misbehaves despite its check.
bool SwitchedOff(const char* name);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_KERNELS_KERNEL_CHECK_H_
