#ifndef SPACEBYTE_MODEL_FEED_FORWARD_H_
#define SPACEBYTE_MODEL_FEED_FORWARD_H_

#include <torch/torch.h>

#include "model/model_spec.h"
#include "model/norm.h"
#include "parallel/collectives.h"

namespace spacebyte::trainer {

// Pre-norm feed-forward: Norm -> linear w->4w -> ReLU or tanh-GELU -> linear 4w->w.
class FeedForwardImpl : public torch::nn::Module {
 public:
  FeedForwardImpl(int64_t width, const ModelSpec& spec);
  torch::Tensor forward(const torch::Tensor& x);

  // Splits the hidden features over `tp` (the weights must already be this
  // rank's shards); null: not split.
  void ShardOver(parallel::Collectives* tp) { tp_ = tp; }

 private:
  Nonlinear nonlinear_;
  Norm layer_norm_;
  torch::nn::Linear linear_1_, linear_2_;
  parallel::Collectives* tp_ = nullptr;
};
TORCH_MODULE(FeedForward);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_MODEL_FEED_FORWARD_H_
