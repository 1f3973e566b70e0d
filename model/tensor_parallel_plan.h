#ifndef SPACEBYTE_MODEL_TENSOR_PARALLEL_PLAN_H_
#define SPACEBYTE_MODEL_TENSOR_PARALLEL_PLAN_H_

// The one visible step that makes the model tensor-parallel, Megatron's
// layout declared per block (kBlockPlan in the .cc): the global blocks'
// weights are replaced by this rank's shards (cut by parallel/shard_layout.h)
// and their attention and feed-forward told the group, so they enter and
// leave the tensor-parallel region where they compute. Everything else
// (local blocks, embeddings, norms, logits) stays replicated.

#include <map>
#include <string>

#include "model/byte_lm.h"
#include "parallel/collectives.h"
#include "parallel/shard_layout.h"

namespace spacebyte::trainer {

struct TensorParallelPlan {
  int rank = 0, size = 1;
  std::map<std::string, parallel::ShardLayout> sharded;  // by parameter name
};

// Splits `model` for tp rank `tp.rank()` of `tp.size()`. `tp` must outlive
// the model. With tp.size() == 1 the model is left as it is.
TensorParallelPlan ApplyTensorParallel(ByteLm& model, parallel::Collectives& tp);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_MODEL_TENSOR_PARALLEL_PLAN_H_
