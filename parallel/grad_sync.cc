#include "parallel/grad_sync.h"

#include <utility>

namespace spacebyte::parallel {

GradSync::GradSync(std::vector<torch::Tensor> params, Collectives& dp,
                   double bucket_mb)
    : dp_(dp) {
  TORCH_CHECK(!params.empty(), "GradSync needs parameters");
  TORCH_CHECK(bucket_mb > 0, "bucket size must be positive, got ", bucket_mb);
  const auto options = params[0].options();
  const int64_t capacity = static_cast<int64_t>(bucket_mb * (1 << 20));
  std::vector<int64_t> bucket_numel;
  int64_t bytes = capacity;  // forces a new bucket for the first parameter
  for (auto it = params.rbegin(); it != params.rend(); ++it) {
    TORCH_CHECK(it->dtype() == options.dtype() && it->device() == options.device(),
                "GradSync parameters must share one dtype and device");
    TORCH_CHECK(it->requires_grad(), "GradSync parameter does not require grad");
    if (bytes >= capacity) {
      bucket_numel.push_back(0);
      bytes = 0;
    }
    slots_.push_back({*it, static_cast<int>(bucket_numel.size()) - 1});
    bucket_numel.back() += it->numel();
    bytes += it->numel() * it->element_size();
  }
  buckets_.resize(bucket_numel.size());
  std::vector<int64_t> offset(bucket_numel.size(), 0);
  for (size_t b = 0; b < buckets_.size(); ++b) {
    buckets_[b].buffer = torch::zeros({bucket_numel[b]}, options);
  }
  for (size_t s = 0; s < slots_.size(); ++s) {
    Slot& slot = slots_[s];
    const int64_t n = slot.param.numel();
    slot.view = buckets_[slot.bucket].buffer.narrow(0, offset[slot.bucket], n)
                    .view(slot.param.sizes());
    offset[slot.bucket] += n;
    hook_ids_.push_back(slot.param.register_hook(
        [this, s](const torch::Tensor& grad) { OnGrad(s, grad); }));
  }
}

GradSync::~GradSync() {
  for (Bucket& bucket : buckets_) {
    if (bucket.reduce) bucket.reduce->Wait();
  }
  for (size_t s = 0; s < slots_.size(); ++s) {
    slots_[s].param.remove_hook(hook_ids_[s]);
  }
}

void GradSync::Prepare(bool sync) {
  TORCH_CHECK(next_launch_ == 0, "GradSync::Prepare before Finish of a sync");
  sync_ = sync;
  launched_in_backward_ = 0;
  for (Bucket& bucket : buckets_) bucket.pending = 0;
  for (Slot& slot : slots_) {
    slot.ready = false;
    ++buckets_[slot.bucket].pending;
  }
}

// Runs before AccumulateGrad adds `grad` to .grad, so the bucket receives
// the earlier micro-batches' sum plus this one's.
void GradSync::OnGrad(size_t s, const torch::Tensor& grad) {
  if (!sync_ || dp_.size() == 1) return;
  Slot& slot = slots_[s];
  TORCH_CHECK(!slot.ready, "a GradSync parameter got two gradients in one backward");
  torch::NoGradGuard no_grad;
  slot.view.copy_(grad);
  if (slot.param.grad().defined()) slot.view.add_(slot.param.grad());
  slot.ready = true;
  --buckets_[slot.bucket].pending;
  const int before = next_launch_;
  LaunchReadyBuckets();
  launched_in_backward_ += next_launch_ - before;
  // Poke the reductions in flight so MPI progresses them during backward.
  for (int b = 0; b < next_launch_; ++b) buckets_[b].reduce->Done();
}

void GradSync::LaunchReadyBuckets() {
  while (next_launch_ < num_buckets() && buckets_[next_launch_].pending == 0) {
    Bucket& bucket = buckets_[next_launch_++];
    bucket.reduce = dp_.AllReduceSumAsync(bucket.buffer);
  }
}

void GradSync::Finish() {
  TORCH_CHECK(sync_, "GradSync::Finish without Prepare(/*sync=*/true)");
  sync_ = false;
  if (dp_.size() == 1) return;  // .grad already holds the mean
  torch::NoGradGuard no_grad;
  for (Slot& slot : slots_) {
    if (slot.ready) continue;
    // No gradient this micro-batch: contribute what earlier ones left.
    if (slot.param.grad().defined()) {
      slot.view.copy_(slot.param.grad());
    } else {
      slot.view.zero_();
    }
    slot.ready = true;
    --buckets_[slot.bucket].pending;
  }
  LaunchReadyBuckets();
  for (Bucket& bucket : buckets_) {
    bucket.reduce->Wait();
    bucket.reduce.reset();
    bucket.buffer.div_(dp_.size());
  }
  for (Slot& slot : slots_) {
    if (slot.param.grad().defined()) {
      slot.param.mutable_grad().copy_(slot.view);
    } else {
      slot.param.mutable_grad() = slot.view.clone();
    }
  }
  next_launch_ = 0;
}

}  // namespace spacebyte::parallel
