#include "parallel/collectives.h"

#include <vector>

namespace spacebyte::parallel {

torch::Tensor Collectives::AllGather(const torch::Tensor& tensor, int64_t dim) {
  torch::Tensor local = tensor.contiguous();
  std::vector<int64_t> stacked_shape{size_};
  stacked_shape.insert(stacked_shape.end(), local.sizes().begin(),
                       local.sizes().end());
  torch::Tensor stacked = torch::empty(stacked_shape, local.options());
  AllGatherStacked(local, stacked);
  return torch::cat(stacked.unbind(0), dim);
}

}  // namespace spacebyte::parallel
