#ifndef SPACEBYTE_MODEL_PATCHING_H_
#define SPACEBYTE_MODEL_PATCHING_H_

// Where the global blocks run: patch boundaries (docs/model.md#patch-rules), computed from the
// bytes with whole-tensor ops (no loop over positions), so they can run in the
// data loader's thread as well as in the model.

#include <torch/torch.h>

#include "model/model_spec.h"

namespace spacebyte::trainer {

struct Patches {
  torch::Tensor global_ts;  // [B, TG] int64 boundary positions, padded with T-1
  torch::Tensor global_T;   // [B] int64 boundaries used (<= TG)
  torch::Tensor overflow;   // [B, T] bool: past the TG-th boundary, targets ignored
};

// spacelike(b) of the utf8 rule, elementwise on an integer tensor.
torch::Tensor Spacelike(const torch::Tensor& tokens);

// boundary[b, t] for the model's patch rule: the reference's utf8 and periodic
// rules, or the multilingual one (docs/multilingual.md), which never puts
// more than TG boundaries in a row of T.
torch::Tensor Boundaries(const torch::Tensor& tokens, const ModelSpec& spec);

// The first TG boundaries of each row, padded; tokens is [B, T] int64.
Patches FindPatches(const torch::Tensor& tokens, const ModelSpec& spec);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_MODEL_PATCHING_H_
