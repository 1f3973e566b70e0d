#ifndef SPACEBYTE_KERNELS_FUSED_ADAMW_H_
#define SPACEBYTE_KERNELS_FUSED_ADAMW_H_

#include <cstdint>
#include <vector>

#include <torch/torch.h>

namespace spacebyte::trainer {

// The hyperparameters of one AdamW step (PyTorch's rule: decoupled weight
// decay scaled by lr, no amsgrad); `step` counts from 1 and sets the bias
// corrections.
struct AdamWStep {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;
  int64_t step = 1;
};

// One AdamW step on lists of same-shaped tensors: each params[i] moves by
// grads[i], updating the moments exp_avg[i] and exp_avg_sq[i] in place.
// Contiguous float32 CPU tensors take one fused pass over parameter,
// gradient and both moments instead of about ten tensor ops; float32 CUDA
// tensors take PyTorch's multi-tensor fused kernel (LibTorch >= 2); anything
// else goes through the tensor ops.
void FusedAdamW(const AdamWStep& s, const std::vector<torch::Tensor>& params,
                const std::vector<torch::Tensor>& grads, const std::vector<torch::Tensor>& exp_avg,
                const std::vector<torch::Tensor>& exp_avg_sq);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_KERNELS_FUSED_ADAMW_H_
