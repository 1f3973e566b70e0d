#ifndef SPACEBYTE_TRAINER_CUDA_AUTOCAST_H_
#define SPACEBYTE_TRAINER_CUDA_AUTOCAST_H_

#include <torch/torch.h>

namespace spacebyte::trainer {

// While alive, runs CUDA matrix products and attention in bfloat16 (autocast;
// parameters, gradients and the optimizer stay float32). Needs LibTorch >= 2
// and a CUDA device; elsewhere it does nothing. The loss is computed in
// float32 (ComputeLoss casts the logits).
class CudaAutocast {
 public:
  explicit CudaAutocast(const torch::Device& device);
  ~CudaAutocast();
  CudaAutocast(const CudaAutocast&) = delete;
  CudaAutocast& operator=(const CudaAutocast&) = delete;

 private:
  bool on_ = false;
};

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_TRAINER_CUDA_AUTOCAST_H_
