#ifndef SPACEBYTE_MODEL_LOGITS_HEAD_H_
#define SPACEBYTE_MODEL_LOGITS_HEAD_H_

#include <torch/torch.h>

#include "model/model_spec.h"
#include "model/norm.h"

namespace spacebyte::trainer {

// Final Norm and the linear map to the 256 byte logits.
class LogitsHeadImpl : public torch::nn::Module {
 public:
  LogitsHeadImpl(int64_t width, NormKind norm);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  Norm layer_norm_;
  torch::nn::Linear logits_linear_;
};
TORCH_MODULE(LogitsHead);

// Token embedding table initialised N(0, 1), as the reference does.
torch::nn::Embedding MakeEmbedding(int64_t width);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_MODEL_LOGITS_HEAD_H_
