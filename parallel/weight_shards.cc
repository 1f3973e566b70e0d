#include "parallel/weight_shards.h"

namespace spacebyte::parallel {
namespace {

torch::Tensor Slice(const torch::Tensor& weight, int64_t dim, int rank, int n) {
  TORCH_CHECK(weight.dim() == 2, "expected a [out, in] weight, got ",
              weight.sizes());
  TORCH_CHECK(n >= 1 && rank >= 0 && rank < n, "bad shard ", rank, " of ", n);
  TORCH_CHECK(weight.size(dim) % n == 0, "dimension ", dim, " of ",
              weight.sizes(), " does not split into ", n, " shards");
  return weight.detach().chunk(n, dim)[rank].clone(torch::MemoryFormat::Contiguous);
}

}  // namespace

torch::Tensor ColumnParallelShard(const torch::Tensor& weight, int rank, int n) {
  return Slice(weight, 0, rank, n);
}

torch::Tensor RowParallelShard(const torch::Tensor& weight, int rank, int n) {
  return Slice(weight, 1, rank, n);
}

torch::Tensor QkvShard(const torch::Tensor& weight, int64_t d_key, int rank,
                       int n) {
  TORCH_CHECK(weight.dim() == 2 && weight.size(0) == 3 * weight.size(1),
              "expected a [3w, w] QKV weight, got ", weight.sizes());
  const int64_t w = weight.size(1);
  TORCH_CHECK(d_key > 0 && w % d_key == 0 && (w / d_key) % n == 0, w / d_key,
              " heads of width ", d_key, " do not split into ", n, " shards");
  TORCH_CHECK(rank >= 0 && rank < n, "bad shard ", rank, " of ", n);
  // Heads are contiguous rows, so rank r's heads of each of Q, K, V are the
  // r-th of n equal row blocks: view as [Q|K|V, rank, rows, in].
  return weight.detach()
      .reshape({3, n, w / n, w})
      .select(1, rank)
      .reshape({3 * w / n, w})
      .clone(torch::MemoryFormat::Contiguous);
}

torch::Tensor MergeColumnParallel(const std::vector<torch::Tensor>& shards) {
  return torch::cat(shards, 0);
}

torch::Tensor MergeRowParallel(const std::vector<torch::Tensor>& shards) {
  return torch::cat(shards, 1);
}

torch::Tensor MergeQkvShards(const std::vector<torch::Tensor>& shards) {
  TORCH_CHECK(!shards.empty(), "no QKV shards to merge");
  const int64_t n = shards.size(), w = shards[0].size(1);
  // [rank, Q|K|V, rows, in] -> [Q|K|V, rank, rows, in].
  std::vector<torch::Tensor> split;
  for (const torch::Tensor& s : shards) split.push_back(s.reshape({3, w / n, w}));
  return torch::stack(split, 0).transpose(0, 1).reshape({3 * w, w});
}

}  // namespace spacebyte::parallel
