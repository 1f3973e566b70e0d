#include "model/linear_init.h"

#include <cmath>

namespace spacebyte::trainer {

torch::nn::Linear MakeLinear(int64_t in, int64_t out) {
  torch::nn::Linear linear(torch::nn::LinearOptions(in, out).bias(false));
  torch::NoGradGuard no_grad;
  linear->weight.normal_(0.0, 1.0 / std::sqrt(static_cast<double>(in)));
  return linear;
}

}  // namespace spacebyte::trainer
