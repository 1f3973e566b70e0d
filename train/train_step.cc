#include "train/train_step.h"

#include <cmath>

#include "kernels/autocast.h"
#include "kernels/phase_timer.h"

namespace spacebyte::trainer {

TrainStep::TrainStep(ByteLm& model, Optimizer& optimizer, const TensorParallelPlan& plan,
                     parallel::Collectives& tp, parallel::Collectives& dp, const RunSpec& spec)
    : model_(model), optimizer_(optimizer), tp_(tp), dp_(dp), spec_(spec) {
  std::vector<torch::Tensor> all;
  for (const auto& p : model.named_parameters()) {
    all.push_back(p.value());
    is_tp_shard_.push_back(plan.sharded.count(p.key()) > 0);
    (is_tp_shard_.back() ? sharded_ : replicated_).push_back(p.value());
  }
  grad_sync_ = std::make_unique<parallel::GradSync>(all, optimizer.layout(), dp);
  device_options_ = all.front().options().requires_grad(false);
}

StepResult TrainStep::Take(const torch::Tensor& targets, double lr) {
  model_.train();
  const int64_t rows = targets.size(0), micro = spec_.train.micro_batch_size;
  // [loss sum, ignored sum] over this rank's rows, summed over dp below; on
  // the compute device, where the dp collectives work.
  torch::Tensor totals = torch::zeros({2}, targets.options().dtype(torch::kDouble));
  for (int64_t start = 0; start < rows; start += micro) {
    torch::Tensor mb, tokens;
    {
      PhaseScope phase("data");
      mb = targets.narrow(0, start, micro);
      tokens = TokensFromTargets(mb);
    }
    grad_sync_->Prepare(/*sync=*/start + micro >= rows);
    LossOutput out;
    {
      Autocast autocast(targets.device().type(), spec_.train.bf16);
      ModelOutput output;
      {
        PhaseScope phase("forward");
        output = model_.Forward(tokens);
      }
      PhaseScope phase("loss");
      out = ComputeLoss(output, mb);
    }
    {
      PhaseScope phase("backward");
      // Each rank's share of the global mean; GradSync averages over dp.
      (out.per_sample.sum() / static_cast<double>(rows)).backward();
    }
    // Added as a tensor: on the CPU no wait on the value per micro-batch.
    totals[0] += out.per_sample.sum().detach().to(totals.options());
    totals[1] += out.ignored_fraction * static_cast<double>(micro);
  }
  {
    PhaseScope phase("grad sync (dp)");
    grad_sync_->Finish();
  }
  if (tp_.size() > 1) {
    PhaseScope phase("grad sync (tp)");
    AverageReplicatedOverTp();
  }
  StepResult result;
  {
    PhaseScope phase("grad clip");
    result.grad_norm = ClipGradients();
  }
  {
    PhaseScope phase("optimizer");
    optimizer_.SetLearningRate(lr);
    if (grad_sync_->sharded()) {
      // Each bucket's parameters start gathering as soon as its slice is
      // updated, while the optimizer goes on with the next bucket.
      optimizer_.Step(GradShards(), [this](int b) { grad_sync_->StartGather(b); });
      grad_sync_->FinishGather();
    } else {
      optimizer_.Step();
    }
    optimizer_.ZeroGrad();
  }
  PhaseScope phase("loss all-reduce");
  dp_.AllReduceSum(totals);
  const double batch = static_cast<double>(spec_.train.batch_size);
  result.loss = totals[0].item<double>() / batch;
  result.ignored_fraction = totals[1].item<double>() / batch;
  return result;
}

std::vector<torch::Tensor> TrainStep::OwnedGradSlices(bool tp_shard) const {
  const parallel::FlatBuckets& layout = grad_sync_->layout();
  std::vector<torch::Tensor> slices;
  for (int b = 0; b < layout.num_buckets(); ++b) {
    const auto [begin, end] = layout.Owned(b, dp_.rank());
    for (const auto& seg : layout.Segments(b, begin, end)) {
      if (is_tp_shard_[layout.slots()[seg.slot].param] != tp_shard) continue;
      slices.push_back(grad_sync_->grad_shard(b).narrow(0, seg.bucket_offset - begin, seg.length));
    }
  }
  return slices;
}

std::vector<torch::Tensor> TrainStep::GradShards() const {
  std::vector<torch::Tensor> shards;
  for (int b = 0; b < grad_sync_->num_buckets(); ++b) shards.push_back(grad_sync_->grad_shard(b));
  return shards;
}

// Each tp rank computes the replicated tensors' gradients from the same
// inputs, but on CUDA the atomic adds of gather's backward, of the norms'
// scale gradients and of flash attention's backward need not add in the
// same order on every rank. Unaveraged, the replicas would drift apart in
// their last bits, then further under Adam, and the tp ranks would compute
// the global blocks from different local ones. One all-reduce of the
// replicated gradients (or of this dp rank's slices of them) keeps them
// bitwise equal.
void TrainStep::AverageReplicatedOverTp() {
  std::vector<torch::Tensor> grads;
  if (grad_sync_->sharded()) {
    grads = OwnedGradSlices(/*tp_shard=*/false);
  } else {
    for (const torch::Tensor& p : replicated_) {
      if (p.grad().defined()) grads.push_back(p.grad());
    }
  }
  if (grads.empty()) return;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> flat;
  for (const torch::Tensor& g : grads) flat.push_back(g.reshape({-1}));
  torch::Tensor sum = torch::cat(flat);
  tp_.AllReduceSum(sum);
  sum.div_(tp_.size());
  int64_t offset = 0;
  for (const torch::Tensor& g : grads) {
    g.copy_(sum.narrow(0, offset, g.numel()).view(g.sizes()));
    offset += g.numel();
  }
}

double TrainStep::ClipGradients() {
  return grad_sync_->sharded() ? ClipGradientShards() : ClipWholeGradients();
}

void TrainStep::ScaleGradients(double clip) {
  torch::NoGradGuard no_grad;
  if (grad_sync_->sharded()) {
    for (const torch::Tensor& g : GradShards()) g.mul_(clip);
    return;
  }
  for (const auto& group : {sharded_, replicated_}) {
    for (const torch::Tensor& p : group) {
      if (p.grad().defined()) p.grad().mul_(clip);
    }
  }
}

double TrainStep::ClipAt(double norm) {
  const double limit = spec_.train.grad_clip;  // 0: no clipping
  const double clip = limit > 0 ? limit / (norm + 1e-6) : 1.0;
  if (clip < 1.0) ScaleGradients(clip);
  return norm;
}

// Sharded: each dp rank holds a slice of every bucket, so the squares of its
// slices add up over dp; tp shards add up over tp as well, and replicated
// tensors count once.
double TrainStep::ClipGradientShards() {
  std::vector<torch::Tensor> norms[2];  // [replicated, tp shard]
  for (const bool tp_shard : {false, true}) {
    for (const torch::Tensor& g : OwnedGradSlices(tp_shard)) norms[tp_shard].push_back(g.norm());
  }
  torch::Tensor squares = torch::zeros({2}, device_options_.dtype(torch::kDouble));
  for (int kind : {0, 1}) {
    if (!norms[kind].empty()) {
      squares[kind] = torch::stack(norms[kind]).to(torch::kDouble).square().sum();
    }
  }
  dp_.AllReduceSum(squares);
  torch::Tensor tp_part = squares.narrow(0, 1, 1).contiguous();
  tp_.AllReduceSum(tp_part);
  return ClipAt(std::sqrt((squares[0] + tp_part[0]).item<double>()));
}

double TrainStep::ClipWholeGradients() {
  // One float pass per gradient (its norm); the squares add up in double.
  auto squares = [this](const std::vector<torch::Tensor>& params) {
    std::vector<torch::Tensor> norms;
    for (const torch::Tensor& p : params) {
      if (p.grad().defined()) norms.push_back(p.grad().norm().to(torch::kDouble));
    }
    if (norms.empty()) return torch::zeros({1}, device_options_.dtype(torch::kDouble));
    return torch::stack(norms).square().sum().view({1});
  };
  // Shards add up over the tp group; replicated tensors count once.
  torch::Tensor sharded = squares(sharded_);
  tp_.AllReduceSum(sharded);
  return ClipAt(std::sqrt((sharded + squares(replicated_)).item<double>()));
}

}  // namespace spacebyte::trainer
