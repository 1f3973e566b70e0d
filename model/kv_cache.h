#ifndef SPACEBYTE_MODEL_KV_CACHE_H_
#define SPACEBYTE_MODEL_KV_CACHE_H_

#include <torch/torch.h>

namespace spacebyte::trainer {

// Keys and values one attention layer has already computed during
// incremental decoding, [B, heads, kept, d_key]. `position` counts every
// position seen; windowed layers keep only the keys still inside the window.
struct KvCache {
  torch::Tensor k, v;
  int64_t position = 0;
};

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_MODEL_KV_CACHE_H_
