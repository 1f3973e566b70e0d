#include "parallel/shard_layout.h"

namespace spacebyte::parallel {
namespace {

ShardLayout EvenSplit(torch::IntArrayRef shape, int64_t dim, int rank, int n) {
  TORCH_CHECK(shape.size() == 2 && shape[dim] % n == 0, "cannot split dim ", dim, " of ", shape,
              " in ", n);
  const int64_t length = shape[dim] / n;
  return {dim, {{0, rank * length, length}}, shape.vec()};
}

}  // namespace

ShardLayout ColumnParallel(torch::IntArrayRef shape, int rank, int n) {
  return EvenSplit(shape, 0, rank, n);
}

ShardLayout RowParallel(torch::IntArrayRef shape, int rank, int n) {
  return EvenSplit(shape, 1, rank, n);
}

ShardLayout QkvParallel(torch::IntArrayRef shape, int64_t d_key, int rank, int n) {
  TORCH_CHECK(shape.size() == 2 && shape[0] == 3 * shape[1], "not a fused QKV weight: ", shape);
  const int64_t width = shape[1];
  TORCH_CHECK(width % d_key == 0 && (width / d_key) % n == 0, width / d_key,
              " heads do not split evenly in ", n);
  const int64_t length = width / n;
  ShardLayout layout{0, {}, shape.vec()};
  for (int64_t part = 0; part < 3; ++part) {
    layout.pieces.push_back({part * length, part * width + rank * length, length});
  }
  return layout;
}

torch::Tensor TakeShard(const torch::Tensor& full, const ShardLayout& layout) {
  std::vector<torch::Tensor> parts;
  for (const ShardLayout::Piece& p : layout.pieces) {
    parts.push_back(full.narrow(layout.dim, p.global, p.length));
  }
  return torch::cat(parts, layout.dim).contiguous();
}

}  // namespace spacebyte::parallel
