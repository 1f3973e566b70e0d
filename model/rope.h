#ifndef SPACEBYTE_MODEL_ROPE_H_
#define SPACEBYTE_MODEL_ROPE_H_

#include <torch/torch.h>

namespace spacebyte::trainer {

// Rotary position embedding on x [B, L, heads, d_key]: consecutive pairs
// (2j, 2j+1) rotate by angle (offset + t) * 10000^(-2j / d_key).
torch::Tensor ApplyRope(const torch::Tensor& x, int64_t offset = 0);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_MODEL_ROPE_H_
