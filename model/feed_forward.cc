#include "model/feed_forward.h"

#include "model/linear_init.h"
#include "parallel/tensor_parallel.h"

namespace spacebyte::trainer {

FeedForwardImpl::FeedForwardImpl(int64_t width, const ModelSpec& spec)
    : nonlinear_(spec.nonlinear),
      layer_norm_(register_module("layer_norm", Norm(width, spec.norm))),
      linear_1_(register_module("linear_1", MakeLinear(width, spec.d_ff_mult * width))),
      linear_2_(register_module("linear_2", MakeLinear(spec.d_ff_mult * width, width))) {}

torch::Tensor FeedForwardImpl::forward(const torch::Tensor& x) {
  // linear_1 column-parallel, linear_2 row-parallel: one region.
  torch::Tensor h = linear_1_(parallel::CopyToTensorParallel(layer_norm_(x), tp_));
  h = nonlinear_ == Nonlinear::kReLU ? torch::relu_(h) : torch::gelu(h, "tanh");
  return parallel::ReduceFromTensorParallel(linear_2_(h), tp_);
}

}  // namespace spacebyte::trainer
