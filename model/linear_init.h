#ifndef SPACEBYTE_MODEL_LINEAR_INIT_H_
#define SPACEBYTE_MODEL_LINEAR_INIT_H_

#include <torch/torch.h>

namespace spacebyte::trainer {

// A bias-free linear layer initialised as the reference's "simple" scheme:
// weight ~ N(0, 1 / d_in).
torch::nn::Linear MakeLinear(int64_t in, int64_t out);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_MODEL_LINEAR_INIT_H_
