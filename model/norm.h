#ifndef SPACEBYTE_MODEL_NORM_H_
#define SPACEBYTE_MODEL_NORM_H_

#include <torch/torch.h>

#include "model/model_spec.h"

namespace spacebyte::trainer {

// Normalisation over the last dimension with a learned scale and no bias:
// LayerNorm, or the reference's RMSNorm (which, unlike the textbook one,
// divides by the standard deviation about the mean).
class NormImpl : public torch::nn::Module {
 public:
  NormImpl(int64_t width, NormKind kind);
  torch::Tensor forward(const torch::Tensor& x) { return Scaled(x, scale_); }
  // With the scale as given: the parameter passed through an op, such as a
  // tensor-parallel region's entry.
  torch::Tensor Scaled(const torch::Tensor& x, const torch::Tensor& scale);
  const torch::Tensor& scale() const { return scale_; }

 private:
  NormKind kind_;
  torch::Tensor scale_;
};
TORCH_MODULE(Norm);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_MODEL_NORM_H_
