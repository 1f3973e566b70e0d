#include "parallel/flat_buckets.h"

#include <algorithm>

#include <c10/util/Exception.h>

namespace spacebyte::parallel {

FlatBuckets::FlatBuckets(const std::vector<int64_t>& numels, int64_t element_size,
                         double bucket_mb, int shards)
    : shards_(shards) {
  TORCH_CHECK(!numels.empty(), "FlatBuckets needs parameters");
  TORCH_CHECK(shards >= 1, "FlatBuckets needs at least one shard, got ", shards);
  TORCH_CHECK(bucket_mb > 0, "bucket size must be positive, got ", bucket_mb);
  const int64_t capacity = static_cast<int64_t>(bucket_mb * (1 << 20));
  int64_t bytes = capacity;  // forces a new bucket for the first parameter
  for (int i = static_cast<int>(numels.size()) - 1; i >= 0; --i) {
    if (bytes >= capacity) {
      first_slot_.push_back(static_cast<int>(slots_.size()));
      bucket_numel_.push_back(0);
      bytes = 0;
    }
    const int bucket = num_buckets() - 1;
    slots_.push_back({i, bucket, bucket_numel_[bucket], numels[i]});
    bucket_numel_[bucket] += numels[i];
    bytes += numels[i] * element_size;
  }
}

std::pair<int64_t, int64_t> FlatBuckets::Owned(int bucket, int shard) const {
  const int64_t n = numel(bucket), c = chunk(bucket);
  return {std::min(n, shard * c), std::min(n, (shard + 1) * c)};
}

std::vector<FlatBuckets::Segment> FlatBuckets::Segments(int bucket, int64_t begin,
                                                        int64_t end) const {
  std::vector<Segment> out;
  for (size_t s = first_slot_[bucket]; s < slots_.size() && slots_[s].bucket == bucket; ++s) {
    const Slot& slot = slots_[s];
    const int64_t lo = std::max(begin, slot.offset);
    const int64_t hi = std::min(end, slot.offset + slot.numel);
    if (lo < hi) out.push_back({static_cast<int>(s), lo - slot.offset, lo, hi - lo});
  }
  return out;
}

}  // namespace spacebyte::parallel
