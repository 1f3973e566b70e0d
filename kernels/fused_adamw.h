#ifndef SPACEBYTE_KERNELS_FUSED_ADAMW_H_
#define SPACEBYTE_KERNELS_FUSED_ADAMW_H_

#include <torch/torch.h>
#include <torch/version.h>

namespace spacebyte::trainer {

// The key of `p`'s entry in LibTorch's optimizer state map: the tensor's
// address, as a string before LibTorch 2 and as a pointer since.
#if TORCH_VERSION_MAJOR >= 2
inline void* OptimizerStateKey(const torch::Tensor& p) { return p.unsafeGetTensorImpl(); }
#else
inline std::string OptimizerStateKey(const torch::Tensor& p) {
  return c10::guts::to_string(p.unsafeGetTensorImpl());
}
#endif

// One step of LibTorch's AdamW (decoupled weight decay, no amsgrad) on every
// parameter of `adamw` that has a gradient, reading and writing the same
// state entries, so checkpoints and torch::optim::AdamW::step stay
// interchangeable. Contiguous float32 CPU tensors take one fused pass over
// parameter, gradient and both moments instead of about ten tensor ops;
// anything else goes through the tensor ops.
void FusedAdamWStep(torch::optim::AdamW& adamw);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_KERNELS_FUSED_ADAMW_H_
