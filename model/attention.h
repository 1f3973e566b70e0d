#ifndef SPACEBYTE_MODEL_ATTENTION_H_
#define SPACEBYTE_MODEL_ATTENTION_H_

#include <torch/torch.h>

#include "model/kv_cache.h"
#include "model/model_spec.h"
#include "model/norm.h"
#include "parallel/collectives.h"

namespace spacebyte::trainer {

// Pre-norm multi-head attention (docs/model.md#a-block): fused QKV
// projection, per-head Q and K norms, optional RoPE, causal (optionally
// windowed) attention.
class AttentionImpl : public torch::nn::Module {
 public:
  // window < 0: full causal attention.
  AttentionImpl(int64_t width, const ModelSpec& spec, int64_t window);

  // With a cache, x holds the positions after those already cached.
  torch::Tensor forward(const torch::Tensor& x, KvCache* cache = nullptr);

  // Splits the heads over `tp` (the weights must already be this rank's
  // shards: model/tensor_parallel_plan.cc); null: not split.
  void ShardOver(parallel::Collectives* tp) { tp_ = tp; }

 private:
  torch::Tensor Attend(const torch::Tensor& q, const torch::Tensor& k,
                       const torch::Tensor& v, KvCache* cache);

  int64_t d_key_, window_;
  bool rope_;
  Norm layer_norm_;
  torch::nn::Linear qkv_linear_, linear_;
  Norm q_layer_norm_, k_layer_norm_;
  parallel::Collectives* tp_ = nullptr;
};
TORCH_MODULE(Attention);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_MODEL_ATTENTION_H_
