#ifndef SPACEBYTE_KERNELS_AUTOCAST_H_
#define SPACEBYTE_KERNELS_AUTOCAST_H_

#include <optional>

#include <torch/torch.h>

namespace spacebyte::trainer {

// While alive and `bf16`, runs the matrix products and attention of
// `device`'s type (CUDA or CPU) in bfloat16 (autocast; parameters,
// gradients, the optimizer and the loss stay float32: ComputeLoss casts the
// logits). Needs LibTorch >= 2; RunSpec refuses bf16 on older builds.
class Autocast {
 public:
  Autocast(c10::DeviceType device, bool bf16);
  ~Autocast();
  Autocast(const Autocast&) = delete;
  Autocast& operator=(const Autocast&) = delete;

  // The device type whose bf16 autocast this thread is inside, if any: what a
  // recomputed block must run under again during backward.
  static std::optional<c10::DeviceType> Active();

 private:
  std::optional<c10::DeviceType> on_;
  bool was_on_ = false;  // restored on exit: guards may nest
};

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_KERNELS_AUTOCAST_H_
