#include "parallel/shard_layout.h"

#include <algorithm>

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

namespace {

int64_t Product(const std::vector<int64_t>& v, size_t from) {
  int64_t n = 1;
  for (size_t d = from; d < v.size(); ++d) n *= v[d];
  return n;
}

// Row-major decomposition of [begin, end) of `shape` into boxes that are each
// a contiguous run: a partial first row, whole rows, a partial last row, by
// recursion on the inner dimensions. `prefix` fixes the outer coordinates.
void Decompose(const std::vector<int64_t>& shape, size_t dim, std::vector<int64_t> prefix,
               int64_t base, int64_t begin, int64_t end, std::vector<FlatBox>* out) {
  if (begin >= end) return;
  const int64_t inner = Product(shape, dim + 1);
  auto emit = [&](int64_t first_row, int64_t rows) {
    FlatBox box{base + first_row * inner, prefix, std::vector<int64_t>(prefix.size(), 1)};
    box.start.push_back(first_row);
    box.extent.push_back(rows);
    for (size_t d = dim + 1; d < shape.size(); ++d) {
      box.start.push_back(0);
      box.extent.push_back(shape[d]);
    }
    out->push_back(std::move(box));
  };
  const int64_t first = begin / inner, last = (end - 1) / inner;  // rows touched
  auto partial = [&](int64_t row, int64_t lo, int64_t hi) {
    if (lo == 0 && hi == inner) return emit(row, 1);
    std::vector<int64_t> p = prefix;
    p.push_back(row);
    Decompose(shape, dim + 1, p, base + row * inner, lo, hi, out);
  };
  if (first == last) return partial(first, begin - first * inner, end - first * inner);
  int64_t whole_from = first, whole_to = last + 1;  // rows [whole_from, whole_to) complete
  if (begin % inner != 0) {
    partial(first, begin % inner, inner);
    whole_from = first + 1;
  }
  const bool tail = end % inner != 0;
  if (tail) whole_to = last;
  if (whole_from < whole_to) emit(whole_from, whole_to - whole_from);
  if (tail) partial(last, 0, end - last * inner);
}

// Splits a box spanning several indices of a dimension before `dim` into
// one box per index, until its range lies at `dim` or after: then cutting it
// along `dim` keeps every part a contiguous run.
void SplitBefore(const std::vector<int64_t>& shape, const FlatBox& box, size_t dim,
                 std::vector<FlatBox>* out) {
  size_t range = 0;
  while (range < box.extent.size() && box.extent[range] == 1) ++range;
  if (range >= dim || range == box.extent.size()) return out->push_back(box);
  const int64_t stride = Product(shape, range + 1);
  for (int64_t i = 0; i < box.extent[range]; ++i) {
    FlatBox one = box;
    one.start[range] += i;
    one.extent[range] = 1;
    one.flat_begin += i * stride;
    SplitBefore(shape, one, dim, out);
  }
}

}  // namespace

std::vector<FlatBox> FlatRangeBoxes(const std::vector<int64_t>& local_shape, int64_t begin,
                                    int64_t end, const ShardLayout* layout) {
  TORCH_CHECK(0 <= begin && begin <= end && end <= Product(local_shape, 0),
              "flat range [", begin, ", ", end, ") outside a tensor of ",
              Product(local_shape, 0), " elements");
  std::vector<FlatBox> local;
  if (local_shape.empty()) {
    if (begin < end) local.push_back({0, {}, {}});
    return local;
  }
  Decompose(local_shape, 0, {}, 0, begin, end, &local);
  if (layout == nullptr) return local;
  const size_t dim = static_cast<size_t>(layout->dim);
  std::vector<FlatBox> split, global;
  for (const FlatBox& box : local) SplitBefore(local_shape, box, dim, &split);
  const int64_t stride = Product(local_shape, dim + 1);
  for (const FlatBox& box : split) {
    const int64_t lo = box.start[dim], hi = lo + box.extent[dim];
    for (const ShardLayout::Piece& piece : layout->pieces) {
      const int64_t a = std::max(lo, piece.local), b = std::min(hi, piece.local + piece.length);
      if (a >= b) continue;
      FlatBox part = box;
      part.start[dim] = piece.global + (a - piece.local);
      part.extent[dim] = b - a;
      part.flat_begin += (a - lo) * stride;
      global.push_back(std::move(part));
    }
  }
  return global;
}

}  // namespace spacebyte::parallel
