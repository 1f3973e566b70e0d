#include "model/rope.h"

namespace spacebyte::trainer {

torch::Tensor ApplyRope(const torch::Tensor& x, int64_t offset) {
  const int64_t length = x.size(1), d_key = x.size(-1);
  const auto opts = x.options();
  const torch::Tensor inv_freq =
      torch::pow(10000.0, -torch::arange(0, d_key, 2, opts) / static_cast<double>(d_key));
  const torch::Tensor pos = torch::arange(offset, offset + length, opts);
  const torch::Tensor angle = torch::outer(pos, inv_freq).unsqueeze(1);  // [L, 1, d_key/2]
  const torch::Tensor cos = angle.cos(), sin = angle.sin();
  const torch::Tensor pairs = x.unflatten(-1, {d_key / 2, 2});
  const torch::Tensor even = pairs.select(-1, 0), odd = pairs.select(-1, 1);
  return torch::stack({even * cos - odd * sin, even * sin + odd * cos}, -1).flatten(-2);
}

}  // namespace spacebyte::trainer
