#include "model/logits_head.h"

#include "model/linear_init.h"

namespace spacebyte::trainer {

LogitsHeadImpl::LogitsHeadImpl(int64_t width, NormKind norm)
    : layer_norm_(register_module("layer_norm", Norm(width, norm))),
      logits_linear_(register_module("logits_linear", MakeLinear(width, kVocabSize))) {}

torch::Tensor LogitsHeadImpl::forward(const torch::Tensor& x) {
  return logits_linear_(layer_norm_(x));
}

torch::nn::Embedding MakeEmbedding(int64_t width) {
  torch::nn::Embedding embedding(kVocabSize, width);
  torch::NoGradGuard no_grad;
  embedding->weight.normal_(0.0, 1.0);
  return embedding;
}

}  // namespace spacebyte::trainer
