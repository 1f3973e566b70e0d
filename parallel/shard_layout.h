#ifndef SPACEBYTE_PARALLEL_SHARD_LAYOUT_H_
#define SPACEBYTE_PARALLEL_SHARD_LAYOUT_H_

// The one tensor-parallel shard cutter. A ShardLayout says where a rank's
// shard of a weight sits in the full tensor; the model's plan cuts its
// weights with it, and checkpoints store each piece at its place in the
// full tensor, so a checkpoint reads back on any tp. Weights are
// [out, in], as torch::nn::Linear stores them.

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace spacebyte::parallel {

// `pieces` contiguous runs along `dim`, each {offset in the shard, offset in
// the full tensor, length}.
struct ShardLayout {
  int64_t dim = 0;
  struct Piece {
    int64_t local, global, length;
  };
  std::vector<Piece> pieces;
  std::vector<int64_t> global_shape;
};

// Column-parallel (output features split): rows [r*out/n, (r+1)*out/n).
ShardLayout ColumnParallel(torch::IntArrayRef shape, int rank, int n);
// Row-parallel (input features split): columns [r*in/n, (r+1)*in/n).
ShardLayout RowParallel(torch::IntArrayRef shape, int rank, int n);
// The fused QKV weight [3w, w] (rows Q | K | V) split by heads: rank r keeps
// the r-th n-th of Q's, K's and V's rows, laid out Q | K | V, so its shard
// is itself a QKV weight of its own heads. Needs heads % n == 0 (the
// process grid checks it first).
ShardLayout QkvParallel(torch::IntArrayRef shape, int64_t d_key, int rank, int n);

// This rank's shard of `full`, a fresh contiguous tensor.
torch::Tensor TakeShard(const torch::Tensor& full, const ShardLayout& layout);

// A box of the full tensor holding a run of the local tensor's elements that
// are contiguous in row-major order: local flat elements
// [flat_begin, flat_begin + prod(extent)) sit at `start` in the full tensor.
struct FlatBox {
  int64_t flat_begin;
  std::vector<int64_t> start, extent;
};
// The boxes, in order, that the local flat elements [begin, end) of a tensor
// of `local_shape` make up in the full tensor; `layout` null when the local
// tensor is the whole one. A checkpoint stores a sharded optimizer's slice
// of a parameter as these boxes, so the reader assembles whole tensors from
// any mix of dp and tp slices.
std::vector<FlatBox> FlatRangeBoxes(const std::vector<int64_t>& local_shape, int64_t begin,
                                    int64_t end, const ShardLayout* layout);

}  // namespace spacebyte::parallel

#endif  // SPACEBYTE_PARALLEL_SHARD_LAYOUT_H_
