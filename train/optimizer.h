#ifndef SPACEBYTE_TRAIN_OPTIMIZER_H_
#define SPACEBYTE_TRAIN_OPTIMIZER_H_

// AdamW as the reference sets it up (docs/model.md#initialisation-and-optimiser):
// linear weights train at lr * d_in^-0.5, everything else at lr, with
// decoupled weight decay scaled by each parameter's learning rate.
//
// We own the state: flat first and second moments per gradient bucket
// (parallel/flat_buckets.h), stepped by the fused AdamW kernel, and one step
// count. Unsharded, the moments cover every bucket; sharded (ZeRO-1,
// parallel.shard_optimizer), this data-parallel rank keeps only the part of
// each bucket it owns and updates only those parameter elements, from the
// reduce-scattered gradient; GradSync then all-gathers the parameters.
// Checkpoints see the state per parameter (Owned, LoadState), so they do not
// depend on buckets or shards.

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "kernels/fused_adamw.h"
#include "parallel/flat_buckets.h"
#include "train/run_spec.h"

namespace spacebyte::trainer {

// d_in^-0.5 for every linear weight (d_in of the full, unsplit layer), 1 for
// the rest; keyed by parameter name. Computed before tensor parallelism
// splits any weight.
std::map<std::string, double> LearningRateMultipliers(torch::nn::Module& model);

class Optimizer {
 public:
  // State laid out by `layout`, built over model.named_parameters() in that
  // order; with layout.shards() > 1, this rank is shard `shard`.
  Optimizer(torch::nn::Module& model, const std::map<std::string, double>& multipliers,
            const TrainSpec& spec, parallel::FlatBuckets layout, int shard);

  void SetLearningRate(double lr) { lr_ = lr; }
  // What `param` trains at now: the scheduled rate times its multiplier.
  double LearningRateOf(const std::string& param) const;

  // Unsharded: one step from every parameter's .grad (none counts as zero).
  void Step();
  // Sharded: one step of the owned elements from grad_shards[b], the owned
  // part of bucket b's gradient; `stepped(b)` runs once bucket b is updated.
  void Step(const std::vector<torch::Tensor>& grad_shards,
            const std::function<void(int bucket)>& stepped);
  void ZeroGrad();

  const parallel::FlatBuckets& layout() const { return layout_; }
  bool sharded() const { return layout_.shards() > 1; }
  int64_t steps() const { return step_; }

  // One run of a parameter's flattened elements that this rank owns, with
  // flat views of the weight and its moments: what a checkpoint saves.
  struct Piece {
    std::string param;
    int64_t offset;  // into the flattened (tensor-parallel local) parameter
    torch::Tensor weight, exp_avg, exp_avg_sq;
  };
  std::vector<Piece> Owned();
  // Moments from whole local tensors named "<param>/exp_avg" and
  // "<param>/exp_avg_sq" (missing ones start at zero) and the step count.
  void LoadState(const std::map<std::string, torch::Tensor>& moments, int64_t steps);
  // Bytes the state holds on this rank: both moments and the step count.
  int64_t StateBytes() const;

 private:
  struct Moments {
    torch::Tensor exp_avg, exp_avg_sq;  // the owned range [begin, end)
    int64_t begin = 0, end = 0;
  };
  void StepBucket(int b, const torch::Tensor& grad_shard);

  std::vector<std::pair<std::string, torch::Tensor>> named_params_;
  std::vector<double> multiplier_;  // per parameter
  parallel::FlatBuckets layout_;
  std::vector<Moments> moments_;  // per bucket
  AdamWStep hyper_;
  double lr_;
  int64_t step_ = 0;
};

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_TRAIN_OPTIMIZER_H_
