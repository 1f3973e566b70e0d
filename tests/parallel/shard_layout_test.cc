// The shard cutter: every layout's shards, placed back, give the full
// weight; a QKV shard holds its own heads of Q, K and V.

#include "parallel/shard_layout.h"

#include <gtest/gtest.h>

#include <vector>

namespace spacebyte::parallel {
namespace {

// Writes `shard` back into its place in `full`: the inverse of TakeShard,
// as a checkpoint reader sees it (each piece at its global offset).
void PlaceShard(const torch::Tensor& shard, const ShardLayout& layout, torch::Tensor& full) {
  for (const ShardLayout::Piece& p : layout.pieces) {
    full.narrow(layout.dim, p.global, p.length).copy_(shard.narrow(layout.dim, p.local, p.length));
  }
}

// Cuts `full` for every rank of n and places the shards into a zero tensor.
torch::Tensor CutAndPlace(const torch::Tensor& full, int n,
                          ShardLayout (*layout)(torch::IntArrayRef, int, int)) {
  torch::Tensor back = torch::zeros_like(full);
  for (int r = 0; r < n; ++r) {
    const ShardLayout l = layout(full.sizes(), r, n);
    PlaceShard(TakeShard(full, l), l, back);
  }
  return back;
}

TEST(ShardLayoutTest, ColumnAndRowShardsRoundTrip) {
  const torch::Tensor w = torch::randn({8, 12});
  for (int n : {1, 2, 4}) {
    EXPECT_EQ(TakeShard(w, ColumnParallel(w.sizes(), n - 1, n)).sizes(),
              (std::vector<int64_t>{8 / n, 12}));
    EXPECT_EQ(TakeShard(w, RowParallel(w.sizes(), n - 1, n)).sizes(),
              (std::vector<int64_t>{8, 12 / n}));
    EXPECT_TRUE(torch::equal(CutAndPlace(w, n, ColumnParallel), w)) << n;
    EXPECT_TRUE(torch::equal(CutAndPlace(w, n, RowParallel), w)) << n;
  }
}

TEST(ShardLayoutTest, ShardsAreIndependentTensors) {
  const torch::Tensor w = torch::zeros({4, 4});
  torch::Tensor shard = TakeShard(w, ColumnParallel(w.sizes(), 1, 2));
  shard.fill_(1);
  EXPECT_EQ(w.sum().item<float>(), 0);
  EXPECT_TRUE(shard.is_contiguous());
}

// Row i of the QKV weight holds the value i, so a shard's values name the
// rows it took.
TEST(ShardLayoutTest, QkvShardTakesItsHeadsOfQKAndV) {
  const int64_t d_key = 2, heads = 4, w = heads * d_key;  // w = 8
  const torch::Tensor qkv = torch::arange(3 * w, torch::kFloat).unsqueeze(1).repeat({1, w});
  // Rank 1 of 2 owns heads 2 and 3: rows 4..7 of Q, 12..15 of K, 20..23 of V.
  const torch::Tensor shard = TakeShard(qkv, QkvParallel(qkv.sizes(), d_key, 1, 2));
  ASSERT_EQ(shard.sizes(), (std::vector<int64_t>{3 * w / 2, w}));
  const torch::Tensor expected =
      torch::tensor({4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23}, torch::kFloat);
  EXPECT_TRUE(torch::equal(shard.select(1, 0), expected));
}

TEST(ShardLayoutTest, QkvShardsRoundTrip) {
  const torch::Tensor qkv = torch::randn({3 * 16, 16});
  for (int n : {1, 2, 4}) {
    torch::Tensor back = torch::zeros_like(qkv);
    for (int r = 0; r < n; ++r) {
      const ShardLayout l = QkvParallel(qkv.sizes(), 4, r, n);
      PlaceShard(TakeShard(qkv, l), l, back);
    }
    EXPECT_TRUE(torch::equal(back, qkv)) << n << " shards";
  }
}

TEST(ShardLayoutTest, UnevenSplitsAreRejected) {
  EXPECT_THROW(ColumnParallel({6, 4}, 0, 4), c10::Error);
  EXPECT_THROW(RowParallel({4, 6}, 0, 4), c10::Error);
  // 3 heads of width 4 do not split in two.
  EXPECT_THROW(QkvParallel({36, 12}, 4, 0, 2), c10::Error);
  EXPECT_THROW(QkvParallel({12, 12}, 4, 0, 1), c10::Error);
}

}  // namespace
}  // namespace spacebyte::parallel
