#ifndef SPACEBYTE_MODEL_TENSOR_PARALLEL_PLAN_H_
#define SPACEBYTE_MODEL_TENSOR_PARALLEL_PLAN_H_

// The one visible step that makes the model tensor-parallel: the global
// blocks' weights are replaced by this rank's shards (Megatron layout) and
// their attention and feed-forward are wrapped in the paired collectives.
// Everything else (local blocks, embeddings, norms, logits) stays replicated.

#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "parallel/collectives.h"
#include "model/byte_lm.h"

namespace spacebyte::trainer {

// Where this rank's shard sits in the full tensor: `pieces` contiguous runs
// along `dim`, each {local offset, global offset, length}.
struct ShardLayout {
  int64_t dim = 0;
  struct Piece {
    int64_t local, global, length;
  };
  std::vector<Piece> pieces;
  std::vector<int64_t> global_shape;
};

struct TensorParallelPlan {
  int rank = 0, size = 1;
  std::map<std::string, ShardLayout> sharded;  // by parameter name
  // Replicated parameters used inside a split region (the Q/K norm scales of
  // global blocks): each rank's gradient covers only its own heads and must
  // be summed over the tp group after backward.
  std::vector<std::string> partial_gradients;
};

// Splits `model` for tp rank `tp.rank()` of `tp.size()`. `tp` must outlive
// the model. With tp.size() == 1 the model is left as it is.
TensorParallelPlan ApplyTensorParallel(ByteLm& model, parallel::Collectives& tp);

// This rank's shard of a full tensor, and the full tensor's pieces this
// rank holds (for checkpoints: one box per piece).
torch::Tensor TakeShard(const torch::Tensor& full, const ShardLayout& layout);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_MODEL_TENSOR_PARALLEL_PLAN_H_
