// The flat-bucket layout shared by GradSync and the optimizer: buckets hold
// every parameter once, shards split each bucket into equal chunks whatever
// its size, and segments partition any range.

#include "parallel/flat_buckets.h"

#include <gtest/gtest.h>

#include <vector>

namespace spacebyte::parallel {
namespace {

TEST(FlatBucketsTest, ParametersFillBucketsInReverseOrder) {
  // 4-byte elements, 1 KiB buckets: 256 elements fill one.
  const FlatBuckets layout({100, 300, 7, 200}, 4, 1.0 / 1024, 1);
  ASSERT_EQ(layout.num_buckets(), 2);
  const std::vector<FlatBuckets::Slot>& s = layout.slots();
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0].param, 3);  // 200 elements: bucket 0 not yet full
  EXPECT_EQ(s[1].param, 2);
  EXPECT_EQ(s[2].param, 1);  // 207 + 300 >= 256: bucket 0 closes after it
  EXPECT_EQ(s[2].offset, 207);
  EXPECT_EQ(s[3].bucket, 1);
  EXPECT_EQ(layout.numel(0), 507);
  EXPECT_EQ(layout.numel(1), 100);
}

TEST(FlatBucketsTest, ShardsCoverEveryElementOnceForAnySize) {
  for (int shards : {1, 2, 3, 4, 7}) {
    for (int64_t n : {1, 2, 5, 6, 97}) {
      const FlatBuckets layout({n}, 4, 1, shards);
      EXPECT_EQ(layout.padded(0) % shards, 0);
      EXPECT_LT(layout.padded(0) - n, shards);
      int64_t next = 0;
      for (int r = 0; r < shards; ++r) {
        const auto [begin, end] = layout.Owned(0, r);
        EXPECT_LE(end - begin, layout.chunk(0));
        if (begin == end) continue;  // a short bucket leaves the last shards empty
        EXPECT_EQ(begin, next) << "shards " << shards << " n " << n << " rank " << r;
        EXPECT_EQ(begin, r * layout.chunk(0));
        next = end;
      }
      EXPECT_EQ(next, n) << "shards " << shards << " n " << n;
    }
  }
}

TEST(FlatBucketsTest, SegmentsPartitionARangeAcrossParameters) {
  const FlatBuckets layout({10, 20, 30}, 4, 1, 3);  // one bucket: 30 | 20 | 10
  ASSERT_EQ(layout.num_buckets(), 1);
  const auto [begin, end] = layout.Owned(0, 1);  // chunk 20: [20, 40)
  ASSERT_EQ(begin, 20);
  ASSERT_EQ(end, 40);
  const std::vector<FlatBuckets::Segment> segs = layout.Segments(0, begin, end);
  ASSERT_EQ(segs.size(), 2u);
  EXPECT_EQ(layout.slots()[segs[0].slot].param, 2);  // the last 10 of the 30
  EXPECT_EQ(segs[0].param_offset, 20);
  EXPECT_EQ(segs[0].bucket_offset, 20);
  EXPECT_EQ(segs[0].length, 10);
  EXPECT_EQ(layout.slots()[segs[1].slot].param, 1);  // the first 10 of the 20
  EXPECT_EQ(segs[1].param_offset, 0);
  EXPECT_EQ(segs[1].bucket_offset, 30);
  EXPECT_EQ(segs[1].length, 10);
}

}  // namespace
}  // namespace spacebyte::parallel
