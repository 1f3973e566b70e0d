#ifndef SPACEBYTE_PARALLEL_WEIGHT_SHARDS_H_
#define SPACEBYTE_PARALLEL_WEIGHT_SHARDS_H_

// Cutting full linear weights ([out, in], as torch::nn::Linear stores them)
// into tensor-parallel shards, and gluing shards back for checkpoints. Every
// shard is a fresh contiguous tensor, ready to become a parameter.

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace spacebyte::parallel {

// Column-parallel (output features split): rows [r*out/n, (r+1)*out/n).
torch::Tensor ColumnParallelShard(const torch::Tensor& weight, int rank, int n);
// Row-parallel (input features split): columns [r*in/n, (r+1)*in/n).
torch::Tensor RowParallelShard(const torch::Tensor& weight, int rank, int n);

// The fused QKV weight [3w, w] (rows Q | K | V, head i at rows
// [i*d_key, (i+1)*d_key) of each) split by heads: rank r of n keeps heads
// [r*H/n, (r+1)*H/n) of Q, K and V, laid out Q | K | V of its own heads, so
// the shard [3w/n, w] is itself a QKV weight of H/n heads.
torch::Tensor QkvShard(const torch::Tensor& weight, int64_t d_key, int rank,
                       int n);

// Inverses: shards in rank order back to the full weight.
torch::Tensor MergeColumnParallel(const std::vector<torch::Tensor>& shards);
torch::Tensor MergeRowParallel(const std::vector<torch::Tensor>& shards);
torch::Tensor MergeQkvShards(const std::vector<torch::Tensor>& shards);

}  // namespace spacebyte::parallel

#endif  // SPACEBYTE_PARALLEL_WEIGHT_SHARDS_H_
