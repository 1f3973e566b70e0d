#include "model/norm.h"

namespace spacebyte::trainer {

constexpr double kNormEps = 1e-5;

NormImpl::NormImpl(int64_t width, NormKind kind)
    : kind_(kind), scale_(register_parameter("scale", torch::ones({width}))) {}

torch::Tensor NormImpl::Scaled(const torch::Tensor& x, const torch::Tensor& scale) {
  if (kind_ == NormKind::kLayerNorm) {
    return torch::layer_norm(x, {x.size(-1)}, scale, {}, kNormEps);
  }
  const torch::Tensor var = x.var(-1, /*unbiased=*/false, /*keepdim=*/true);
  return x * torch::rsqrt(var + kNormEps) * scale;
}

}  // namespace spacebyte::trainer
