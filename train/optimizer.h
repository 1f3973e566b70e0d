#ifndef SPACEBYTE_TRAIN_OPTIMIZER_H_
#define SPACEBYTE_TRAIN_OPTIMIZER_H_

// AdamW as the reference sets it up (docs/model.md#initialisation-and-optimiser):
// one parameter group per learning-rate multiplier (linear weights train at
// lr * d_in^-0.5, everything else at lr), decoupled weight decay scaled by
// each group's learning rate.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "train/run_spec.h"

namespace spacebyte::trainer {

// d_in^-0.5 for every linear weight (d_in of the full, unsplit layer), 1 for
// the rest; keyed by parameter name. Computed before tensor parallelism
// splits any weight.
std::map<std::string, double> LearningRateMultipliers(torch::nn::Module& model);

class Optimizer {
 public:
  Optimizer(torch::nn::Module& model, const std::map<std::string, double>& multipliers,
            const TrainSpec& spec);

  void SetLearningRate(double lr);
  void Step();
  void ZeroGrad() { adamw_->zero_grad(); }
  torch::optim::AdamW& adamw() { return *adamw_; }

  // Named optimizer state ("<param>/exp_avg", "<param>/exp_avg_sq",
  // "<param>/step") for checkpoints, and its inverse.
  std::vector<std::pair<std::string, torch::Tensor>> State();
  void LoadState(const std::map<std::string, torch::Tensor>& state);
  // Bytes the state holds on this rank (both moments and the step counts);
  // 0 before the first step creates it.
  int64_t StateBytes();

 private:
  std::unique_ptr<torch::optim::AdamW> adamw_;
  std::vector<double> group_multiplier_;
  std::vector<std::pair<std::string, torch::Tensor>> named_params_;
};

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_TRAIN_OPTIMIZER_H_
