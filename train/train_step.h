#ifndef SPACEBYTE_TRAIN_TRAIN_STEP_H_
#define SPACEBYTE_TRAIN_TRAIN_STEP_H_

// One optimizer step on this rank's rows of a global batch: micro-batches
// with gradient accumulation, data-parallel averaging that overlaps the last
// backward (an all-reduce, or with a sharded optimizer a reduce-scatter and
// an all-gather of the updated parameters), the replicated gradients
// averaged over tp, global-norm clipping, AdamW.

#include <memory>

#include <torch/torch.h>

#include "parallel/collectives.h"
#include "parallel/grad_sync.h"
#include "model/byte_lm.h"
#include "train/optimizer.h"
#include "train/run_spec.h"
#include "model/tensor_parallel_plan.h"

namespace spacebyte::trainer {

struct StepResult {
  double loss = 0;              // mean over the global batch of per-sample losses
  double ignored_fraction = 0;  // over the global batch
  double grad_norm = 0;         // before clipping
};

class TrainStep {
 public:
  TrainStep(ByteLm& model, Optimizer& optimizer, const TensorParallelPlan& plan,
            parallel::Collectives& tp, parallel::Collectives& dp, const RunSpec& spec);

  // `targets` [rows, T] int64: this rank's rows. Collective.
  StepResult Take(const torch::Tensor& targets, double lr);

 private:
  // tp > 1: the replicated tensors' gradients averaged over the tp group.
  void AverageReplicatedOverTp();
  // Clips to train.grad_clip by the global norm; returns the norm before.
  double ClipGradients();
  double ClipWholeGradients();
  double ClipGradientShards();
  double ClipAt(double norm);
  void ScaleGradients(double clip);
  std::vector<torch::Tensor> GradShards() const;
  // Sharded: the slices of this dp rank's gradient shards that hold tp
  // shards' values (or, with false, replicated tensors' values).
  std::vector<torch::Tensor> OwnedGradSlices(bool tp_shard) const;

  ByteLm& model_;
  Optimizer& optimizer_;
  parallel::Collectives& tp_;
  parallel::Collectives& dp_;
  const RunSpec& spec_;
  std::unique_ptr<parallel::GradSync> grad_sync_;
  torch::TensorOptions device_options_;  // the parameters' device
  std::vector<torch::Tensor> sharded_, replicated_;  // tp shards, replicated
  std::vector<bool> is_tp_shard_;                    // per parameter
};

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_TRAIN_TRAIN_STEP_H_
