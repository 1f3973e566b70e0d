#include "parallel/grad_sync.h"

#include <utility>

namespace spacebyte::parallel {

FlatBuckets LayoutOf(const std::vector<torch::Tensor>& params, double bucket_mb, int shards) {
  TORCH_CHECK(!params.empty(), "GradSync needs parameters");
  std::vector<int64_t> numels;
  for (const torch::Tensor& p : params) numels.push_back(p.numel());
  return FlatBuckets(numels, params[0].element_size(), bucket_mb, shards);
}

GradSync::GradSync(std::vector<torch::Tensor> params, Collectives& dp, double bucket_mb)
    : GradSync(params, LayoutOf(params, bucket_mb, 1), dp) {}

GradSync::GradSync(std::vector<torch::Tensor> params, FlatBuckets layout, Collectives& dp)
    : layout_(std::move(layout)), dp_(dp) {
  TORCH_CHECK(layout_.shards() == 1 || layout_.shards() == dp.size(),
              "a sharded GradSync needs one shard per dp rank");
  const auto options = params.at(0).options();
  for (const torch::Tensor& p : params) {
    TORCH_CHECK(p.dtype() == options.dtype() && p.device() == options.device(),
                "GradSync parameters must share one dtype and device");
    TORCH_CHECK(p.requires_grad(), "GradSync parameter does not require grad");
  }
  for (const FlatBuckets::Slot& s : layout_.slots()) {
    TORCH_CHECK(params.at(s.param).numel() == s.numel,
                "GradSync layout does not match its parameters");
  }
  // One rank sends nothing: no buffers (a copy of every gradient, 1.7 GB
  // at the 1e19 shapes, held on the GPU for nothing) and no hooks.
  if (dp.size() == 1) return;
  buckets_.resize(layout_.num_buckets());
  for (int b = 0; b < num_buckets(); ++b) {
    buckets_[b].buffer = torch::zeros({layout_.padded(b)}, options);
    if (sharded()) buckets_[b].shard = torch::zeros({layout_.chunk(b)}, options);
  }
  for (const FlatBuckets::Slot& s : layout_.slots()) {
    const torch::Tensor& p = params.at(s.param);
    slots_.push_back({p, buckets_[s.bucket].buffer.narrow(0, s.offset, s.numel).view(p.sizes())});
    const size_t index = slots_.size() - 1;
    hook_ids_.push_back(
        p.register_hook([this, index](const torch::Tensor& grad) { OnGrad(index, grad); }));
  }
}

GradSync::~GradSync() {
  for (Bucket& bucket : buckets_) {
    if (bucket.collective) bucket.collective->Wait();
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
  for (size_t s = 0; s < slots_.size(); ++s) {
    slots_[s].ready = false;
    ++buckets_[layout_.slots()[s].bucket].pending;
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
  --buckets_[layout_.slots()[s].bucket].pending;
  const int before = next_launch_;
  LaunchReadyBuckets();
  launched_in_backward_ += next_launch_ - before;
  // Poke the collectives in flight so MPI progresses them during backward.
  for (int b = 0; b < next_launch_; ++b) buckets_[b].collective->Done();
}

void GradSync::LaunchReadyBuckets() {
  while (next_launch_ < num_buckets() && buckets_[next_launch_].pending == 0) {
    Bucket& bucket = buckets_[next_launch_++];
    bucket.collective = sharded() ? dp_.ReduceScatterSumAsync(bucket.buffer, bucket.shard)
                                  : dp_.AllReduceSumAsync(bucket.buffer);
  }
}

void GradSync::Finish() {
  TORCH_CHECK(sync_, "GradSync::Finish without Prepare(/*sync=*/true)");
  sync_ = false;
  if (dp_.size() == 1) return;  // .grad already holds the mean
  torch::NoGradGuard no_grad;
  for (size_t s = 0; s < slots_.size(); ++s) {
    Slot& slot = slots_[s];
    if (slot.ready) continue;
    // No gradient this micro-batch: contribute what earlier ones left.
    if (slot.param.grad().defined()) {
      slot.view.copy_(slot.param.grad());
    } else {
      slot.view.zero_();
    }
    slot.ready = true;
    --buckets_[layout_.slots()[s].bucket].pending;
  }
  LaunchReadyBuckets();
  next_launch_ = 0;
  for (Bucket& bucket : buckets_) {
    bucket.collective->Wait();
    bucket.collective.reset();
    (sharded() ? bucket.shard : bucket.buffer).div_(dp_.size());
  }
  if (sharded()) return;
  for (Slot& slot : slots_) {
    if (slot.param.grad().defined()) {
      slot.param.mutable_grad().copy_(slot.view);
    } else {
      slot.param.mutable_grad() = slot.view.clone();
    }
  }
}

void GradSync::StartGather(int b) {
  TORCH_CHECK(sharded(), "GradSync::StartGather on an unsharded layout");
  Bucket& bucket = buckets_[b];
  TORCH_CHECK(!bucket.collective, "bucket ", b, " is already being gathered");
  torch::NoGradGuard no_grad;
  const auto [begin, end] = layout_.Owned(b, dp_.rank());
  for (const FlatBuckets::Segment& seg : layout_.Segments(b, begin, end)) {
    bucket.buffer.narrow(0, seg.bucket_offset, seg.length)
        .copy_(slots_[seg.slot].param.detach().view(-1).narrow(0, seg.param_offset, seg.length));
  }
  bucket.collective = dp_.AllGatherAsync(bucket.buffer);
}

void GradSync::FinishGather() {
  torch::NoGradGuard no_grad;
  for (Bucket& bucket : buckets_) {
    // A bucket not gathered would write its stale buffer into the parameters.
    TORCH_CHECK(bucket.collective, "GradSync::FinishGather before every bucket's StartGather");
    bucket.collective->Wait();
    bucket.collective.reset();
  }
  for (Slot& slot : slots_) slot.param.detach().copy_(slot.view);
}

}  // namespace spacebyte::parallel
