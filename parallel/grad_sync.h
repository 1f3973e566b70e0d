#ifndef SPACEBYTE_PARALLEL_GRAD_SYNC_H_
#define SPACEBYTE_PARALLEL_GRAD_SYNC_H_

// Data-parallel gradient averaging that overlaps with backward.
//
// Parameters are packed, in reverse registration order (roughly the order
// backward produces their gradients), into buckets of about `bucket_mb`
// megabytes. A hook on each parameter copies its gradient into the bucket's
// flat buffer; once every parameter of a bucket is in, the bucket's
// non-blocking all-reduce starts while backward goes on with earlier layers.
// Buckets start strictly in index order, so all ranks issue the same
// collectives in the same sequence whatever order their hooks fire in.
//
// Per optimizer step:
//   for each micro-batch: sync.Prepare(/*sync=*/is_last); loss.backward();
//   sync.Finish();   // every .grad now holds the mean over the dp group
//
// Only the last micro-batch communicates; earlier ones just accumulate into
// .grad as usual. On CPU, LibTorch 1.13 runs backward (and so the hooks) on
// the thread that called it; MpiEnv asks for MPI_THREAD_MULTIPLE anyway.

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "parallel/collectives.h"

namespace spacebyte::parallel {

class GradSync {
 public:
  // `params` all of one dtype and device, each used at most once per backward
  // (true of every nn::Module parameter). `dp` must outlive this object.
  GradSync(std::vector<torch::Tensor> params, Collectives& dp, double bucket_mb);
  ~GradSync();  // removes the hooks
  GradSync(const GradSync&) = delete;
  GradSync& operator=(const GradSync&) = delete;

  // Before each micro-batch's backward: whether this one should communicate.
  void Prepare(bool sync);
  // After the syncing backward: starts buckets still waiting (parameters that
  // got no gradient count as zero), waits for all, and writes the dp-mean
  // into every parameter's .grad. With dp = 1 nothing is copied or sent.
  void Finish();

  int num_buckets() const { return static_cast<int>(buckets_.size()); }
  // Buckets whose all-reduce started from a hook, i.e. during backward, in
  // the last syncing micro-batch.
  int launched_in_backward() const { return launched_in_backward_; }

 private:
  struct Slot {
    torch::Tensor param;
    int bucket;
    torch::Tensor view;  // this parameter's place in the bucket buffer
    bool ready = false;
  };
  struct Bucket {
    torch::Tensor buffer;
    int pending = 0;  // slots not yet ready
    std::unique_ptr<PendingCollective> reduce;
  };

  void OnGrad(size_t slot, const torch::Tensor& grad);
  void LaunchReadyBuckets();

  Collectives& dp_;
  std::vector<Slot> slots_;
  std::vector<Bucket> buckets_;
  std::vector<int> hook_ids_;
  bool sync_ = false;
  int next_launch_ = 0;
  int launched_in_backward_ = 0;
};

}  // namespace spacebyte::parallel

#endif  // SPACEBYTE_PARALLEL_GRAD_SYNC_H_
