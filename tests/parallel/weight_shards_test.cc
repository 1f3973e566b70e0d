#include "parallel/weight_shards.h"

#include <gtest/gtest.h>

#include <vector>

namespace spacebyte::parallel {
namespace {

TEST(WeightShards, ColumnAndRowShardsRoundTrip) {
  torch::Tensor w = torch::randn({8, 12});
  for (int n : {1, 2, 4}) {
    std::vector<torch::Tensor> columns, rows;
    for (int r = 0; r < n; ++r) {
      columns.push_back(ColumnParallelShard(w, r, n));
      rows.push_back(RowParallelShard(w, r, n));
      EXPECT_EQ(columns.back().sizes(), (std::vector<int64_t>{8 / n, 12}));
      EXPECT_EQ(rows.back().sizes(), (std::vector<int64_t>{8, 12 / n}));
    }
    EXPECT_TRUE(torch::equal(MergeColumnParallel(columns), w));
    EXPECT_TRUE(torch::equal(MergeRowParallel(rows), w));
  }
}

TEST(WeightShards, ShardsAreIndependentTensors) {
  torch::Tensor w = torch::zeros({4, 4});
  torch::Tensor shard = ColumnParallelShard(w, 1, 2);
  shard.fill_(1);
  EXPECT_EQ(w.sum().item<float>(), 0);
  EXPECT_TRUE(shard.is_contiguous());
}

// Row i of the QKV weight holds the value i, so a shard's values name the
// rows it took.
TEST(WeightShards, QkvShardTakesItsHeadsOfQKAndV) {
  const int64_t d_key = 2, heads = 4, w = heads * d_key;  // w = 8
  torch::Tensor qkv = torch::arange(3 * w, torch::kFloat).unsqueeze(1).repeat({1, w});
  // Rank 1 of 2 owns heads 2 and 3: rows 4..7 of Q, 12..15 of K, 20..23 of V.
  torch::Tensor shard = QkvShard(qkv, d_key, 1, 2);
  ASSERT_EQ(shard.sizes(), (std::vector<int64_t>{3 * w / 2, w}));
  torch::Tensor expected = torch::tensor(
      {4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23}, torch::kFloat);
  EXPECT_TRUE(torch::equal(shard.select(1, 0), expected));
}

TEST(WeightShards, QkvShardsRoundTrip) {
  torch::Tensor qkv = torch::randn({3 * 16, 16});
  for (int n : {1, 2, 4}) {
    std::vector<torch::Tensor> shards;
    for (int r = 0; r < n; ++r) shards.push_back(QkvShard(qkv, 4, r, n));
    EXPECT_TRUE(torch::equal(MergeQkvShards(shards), qkv)) << n << " shards";
  }
}

TEST(WeightShards, UnevenSplitsAreRejected) {
  EXPECT_THROW(ColumnParallelShard(torch::zeros({6, 4}), 0, 4), c10::Error);
  EXPECT_THROW(RowParallelShard(torch::zeros({4, 6}), 0, 4), c10::Error);
  // 3 heads of width 4 do not split in two.
  EXPECT_THROW(QkvShard(torch::zeros({36, 12}), 4, 0, 2), c10::Error);
  EXPECT_THROW(QkvShard(torch::zeros({12, 12}), 4, 0, 1), c10::Error);
}

}  // namespace
}  // namespace spacebyte::parallel
