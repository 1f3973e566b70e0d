#ifndef SPACEBYTE_PARALLEL_GRAD_SYNC_H_
#define SPACEBYTE_PARALLEL_GRAD_SYNC_H_

// Data-parallel gradient exchange that overlaps with backward.
//
// Parameters are packed into the flat buckets of a FlatBuckets layout. A hook
// on each parameter copies its gradient into the bucket's buffer; once every
// parameter of a bucket is in, the bucket's non-blocking collective starts
// while backward goes on with earlier layers. Buckets start strictly in index
// order, so all ranks issue the same collectives in the same sequence
// whatever order their hooks fire in.
//
// Unsharded (layout.shards() == 1) the collective is an all-reduce and Finish
// leaves the dp-mean in every parameter's .grad. Sharded (ZeRO-1, shards ==
// dp) it is a reduce-scatter: Finish leaves in grad_shard(b) the dp-mean of
// the part of bucket b this rank owns, and .grad is not averaged. After the
// optimizer has updated the owned parts of the parameters, StartGather(b)
// all-gathers bucket b's parameters and FinishGather writes them back.
//
// Per optimizer step:
//   for each micro-batch: sync.Prepare(/*sync=*/is_last); loss.backward();
//   sync.Finish();
//   sharded: update owned parts, sync.StartGather(b) per bucket; sync.FinishGather();
//
// Only the last micro-batch communicates; earlier ones just accumulate into
// .grad as usual. On CPU, LibTorch 1.13 runs backward (and so the hooks) on
// the thread that called it; MpiEnv asks for MPI_THREAD_MULTIPLE anyway.

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "parallel/collectives.h"
#include "parallel/flat_buckets.h"

namespace spacebyte::parallel {

class GradSync {
 public:
  // `params` all of one dtype and device, each used at most once per backward
  // (true of every nn::Module parameter), laid out by `layout` (built from
  // these parameters; shards either 1 or dp.size()). `dp` must outlive this.
  GradSync(std::vector<torch::Tensor> params, FlatBuckets layout, Collectives& dp);
  // Unsharded, with buckets of `bucket_mb`.
  GradSync(std::vector<torch::Tensor> params, Collectives& dp, double bucket_mb);
  ~GradSync();  // removes the hooks
  GradSync(const GradSync&) = delete;
  GradSync& operator=(const GradSync&) = delete;

  // Before each micro-batch's backward: whether this one should communicate.
  void Prepare(bool sync);
  // After the syncing backward: starts buckets still waiting (parameters that
  // got no gradient count as zero), waits for all, and leaves the dp-mean in
  // .grad (unsharded) or in grad_shard (sharded). With dp = 1 nothing is
  // copied or sent.
  void Finish();

  bool sharded() const { return layout_.shards() > 1; }
  const FlatBuckets& layout() const { return layout_; }
  // Sharded, after Finish: the dp-mean gradient of the elements of bucket b
  // this rank owns (layout().Owned(b, dp rank)).
  const torch::Tensor& grad_shard(int b) const { return buckets_[b].shard; }
  // Sharded: copies this rank's owned part of bucket b's parameters into the
  // buffer and starts the all-gather.
  void StartGather(int b);
  // Waits for every gather started and writes the parameters back.
  void FinishGather();

  int num_buckets() const { return layout_.num_buckets(); }
  // Buckets whose collective started from a hook, i.e. during backward, in
  // the last syncing micro-batch.
  int launched_in_backward() const { return launched_in_backward_; }

 private:
  struct Slot {
    torch::Tensor param;
    torch::Tensor view;  // this parameter's place in the bucket buffer
    bool ready = false;
  };
  struct Bucket {
    torch::Tensor buffer;  // padded to the layout's shards
    torch::Tensor shard;   // sharded: the owned part of the reduced buffer
    int pending = 0;       // slots not yet ready
    std::unique_ptr<PendingCollective> collective;
  };

  void OnGrad(size_t slot, const torch::Tensor& grad);
  void LaunchReadyBuckets();

  FlatBuckets layout_;
  Collectives& dp_;
  std::vector<Slot> slots_;  // in layout order
  std::vector<Bucket> buckets_;
  std::vector<int> hook_ids_;
  bool sync_ = false;
  int next_launch_ = 0;
  int launched_in_backward_ = 0;
};

// The flat-bucket layout of `params` (element counts and element size).
FlatBuckets LayoutOf(const std::vector<torch::Tensor>& params, double bucket_mb, int shards);

}  // namespace spacebyte::parallel

#endif  // SPACEBYTE_PARALLEL_GRAD_SYNC_H_
