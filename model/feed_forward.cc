#include "model/feed_forward.h"

#include "model/linear_init.h"

namespace spacebyte::trainer {

FeedForwardImpl::FeedForwardImpl(int64_t width, const ModelSpec& spec)
    : nonlinear_(spec.nonlinear),
      layer_norm_(register_module("layer_norm", Norm(width, spec.norm))),
      linear_1_(register_module("linear_1", MakeLinear(width, spec.d_ff_mult * width))),
      linear_2_(register_module("linear_2", MakeLinear(spec.d_ff_mult * width, width))) {}

torch::Tensor FeedForwardImpl::forward(const torch::Tensor& x) {
  torch::Tensor h = linear_1_(tp_.Enter(layer_norm_(x)));
  h = nonlinear_ == Nonlinear::kReLU ? torch::relu_(h) : torch::gelu(h, "tanh");
  return tp_.Exit(linear_2_(h));
}

}  // namespace spacebyte::trainer
