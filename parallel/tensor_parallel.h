#ifndef SPACEBYTE_PARALLEL_TENSOR_PARALLEL_H_
#define SPACEBYTE_PARALLEL_TENSOR_PARALLEL_H_

// Megatron-style entry and exit of a tensor-parallel region. A sublayer split
// across the tp group (QKV and linear_1 column-parallel, the attention output
// and linear_2 row-parallel) is wrapped as
//
//   h = CopyToTensorParallel(Norm(x), tp);   // every rank sees all of h
//   partial = Sublayer_with_this_ranks_shards(h);
//   out = ReduceFromTensorParallel(partial, tp);  // sum of the partial outputs
//
// A null `tp` (a layer that is not split) makes both the identity.
//
// Forward needs one all-reduce (the exit) and backward one (the entry), per
// sublayer. A replicated parameter used INSIDE the region (the Q and K norm
// scales of a split attention) gets only this rank's heads' share of its
// gradient; pass it through CopyToTensorParallel as well so backward sums the
// shares and every rank holds the full gradient.
//
// The collectives object must outlive every graph built with it.

#include <torch/torch.h>

#include "parallel/collectives.h"

namespace spacebyte::parallel {

// Identity forward; all-reduce (sum) of the gradient in backward.
torch::Tensor CopyToTensorParallel(const torch::Tensor& x, Collectives* tp);

// All-reduce (sum) forward; identity backward.
torch::Tensor ReduceFromTensorParallel(const torch::Tensor& x, Collectives* tp);

}  // namespace spacebyte::parallel

#endif  // SPACEBYTE_PARALLEL_TENSOR_PARALLEL_H_
