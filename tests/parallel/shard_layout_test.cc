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

// Every flat range of a shard, cut into boxes of the full tensor: each box
// holds exactly the shard's elements it names (the full tensor's values are
// their own positions), and the boxes hold the range's elements once, in
// order. This is how a sharded optimizer's slices land in a checkpoint.
void ExpectBoxesHoldTheRange(const std::vector<int64_t>& full_shape, const ShardLayout* layout) {
  const int64_t total = torch::empty(full_shape).numel();
  const torch::Tensor full = torch::arange(total, torch::kLong).view(full_shape);
  const torch::Tensor local = layout ? TakeShard(full, *layout) : full;
  const torch::Tensor flat = local.reshape(-1);
  const int64_t n = flat.numel();
  for (int64_t begin : {int64_t{0}, int64_t{1}, n / 3, n - 1}) {
    for (int64_t end : {begin, begin + 1, n / 2 + 1, n - 2, n}) {
      if (end < begin || end > n) continue;
      int64_t next = begin;
      for (const FlatBox& box : FlatRangeBoxes(local.sizes().vec(), begin, end, layout)) {
        EXPECT_EQ(box.flat_begin, next) << begin << ".." << end;
        torch::Tensor view = full;
        for (size_t d = 0; d < box.start.size(); ++d) {
          view = view.narrow(static_cast<int64_t>(d), box.start[d], box.extent[d]);
        }
        EXPECT_TRUE(torch::equal(view.reshape(-1), flat.narrow(0, box.flat_begin, view.numel())))
            << "box at flat " << box.flat_begin << " of range " << begin << ".." << end;
        next += view.numel();
      }
      EXPECT_EQ(next, end) << "range " << begin << ".." << end;
    }
  }
}

TEST(ShardLayoutTest, FlatRangesBecomeBoxesOfTheFullTensor) {
  ExpectBoxesHoldTheRange({7}, nullptr);
  ExpectBoxesHoldTheRange({6, 5}, nullptr);
  ExpectBoxesHoldTheRange({3, 4, 5}, nullptr);
  for (int r = 0; r < 2; ++r) {
    const ShardLayout column = ColumnParallel({8, 6}, r, 2), row = RowParallel({6, 8}, r, 2);
    const ShardLayout qkv = QkvParallel({3 * 8, 8}, 2, r, 2);
    ExpectBoxesHoldTheRange({8, 6}, &column);
    ExpectBoxesHoldTheRange({6, 8}, &row);
    ExpectBoxesHoldTheRange({3 * 8, 8}, &qkv);
  }
  // Several pieces along dim 1 make whole-row boxes split row by row.
  const ShardLayout split_columns{1, {{0, 4, 2}, {2, 0, 2}}, {3, 6}};
  ExpectBoxesHoldTheRange({3, 6}, &split_columns);
}

}  // namespace
}  // namespace spacebyte::parallel
