#ifndef SPACEBYTE_PARALLEL_FLAT_BUCKETS_H_
#define SPACEBYTE_PARALLEL_FLAT_BUCKETS_H_

// How parameters pack into flat buckets, shared by the gradient exchange
// (grad_sync.h) and the optimizer state that lives beside it.
//
// Parameters go in reverse registration order (roughly the order backward
// produces their gradients) into buckets of about `bucket_mb` megabytes. When
// the optimizer is sharded over `shards` data-parallel ranks, each bucket is
// padded to a multiple of `shards` and cut into equal chunks: rank r owns
// elements [r·chunk, (r+1)·chunk) that are real (the last chunks may be short
// or empty). Equal chunks are the only form NCCL's reduce-scatter and
// all-gather take; the padding is at most shards - 1 elements per bucket, so
// no size has to divide evenly.

#include <cstdint>
#include <utility>
#include <vector>

namespace spacebyte::parallel {

class FlatBuckets {
 public:
  // One parameter's place: bucket and offset in it.
  struct Slot {
    int param;  // index into the parameter list given to Plan
    int bucket;
    int64_t offset;
    int64_t numel;
  };
  // A run of elements both in one parameter and in a bucket's range.
  struct Segment {
    int slot;
    int64_t param_offset;   // into the flattened parameter
    int64_t bucket_offset;  // into the bucket
    int64_t length;
  };

  // `numels[i]`: element count of parameter i; `element_size` bytes each.
  FlatBuckets(const std::vector<int64_t>& numels, int64_t element_size, double bucket_mb,
              int shards);

  int num_buckets() const { return static_cast<int>(bucket_numel_.size()); }
  int shards() const { return shards_; }
  const std::vector<Slot>& slots() const { return slots_; }
  int64_t numel(int bucket) const { return bucket_numel_[bucket]; }
  // Elements per shard, and the padded bucket size (chunk · shards).
  int64_t chunk(int bucket) const { return (numel(bucket) + shards_ - 1) / shards_; }
  int64_t padded(int bucket) const { return chunk(bucket) * shards_; }
  // [begin, end) of the bucket's real elements that `shard` owns.
  std::pair<int64_t, int64_t> Owned(int bucket, int shard) const;
  // The parameters' runs inside [begin, end) of `bucket`, in bucket order.
  std::vector<Segment> Segments(int bucket, int64_t begin, int64_t end) const;

 private:
  int shards_;
  std::vector<Slot> slots_;            // in bucket order
  std::vector<int64_t> bucket_numel_;  // real elements per bucket
  std::vector<int> first_slot_;        // per bucket
};

}  // namespace spacebyte::parallel

#endif  // SPACEBYTE_PARALLEL_FLAT_BUCKETS_H_
