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
    (plan.sharded.count(p.key()) ? sharded_ : replicated_).push_back(p.value());
  }
  grad_sync_ = std::make_unique<parallel::GradSync>(all, dp, spec.parallel.bucket_mb);
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
  StepResult result;
  {
    PhaseScope phase("grad clip");
    result.grad_norm = ClipGradients();
  }
  {
    PhaseScope phase("optimizer");
    optimizer_.SetLearningRate(lr);
    optimizer_.Step();
    optimizer_.ZeroGrad();
  }
  PhaseScope phase("loss all-reduce");
  dp_.AllReduceSum(totals);
  const double batch = static_cast<double>(spec_.train.batch_size);
  result.loss = totals[0].item<double>() / batch;
  result.ignored_fraction = totals[1].item<double>() / batch;
  return result;
}

double TrainStep::ClipGradients() {
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
  const double norm = std::sqrt((sharded + squares(replicated_)).item<double>());
  const double limit = spec_.train.grad_clip;  // 0: no clipping
  const double clip = limit > 0 ? limit / (norm + 1e-6) : 1.0;
  if (clip < 1.0) {
    torch::NoGradGuard no_grad;
    for (const auto& group : {sharded_, replicated_}) {
      for (const torch::Tensor& p : group) {
        if (p.grad().defined()) p.grad().mul_(clip);
      }
    }
  }
  return norm;
}

}  // namespace spacebyte::trainer
