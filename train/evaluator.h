#ifndef SPACEBYTE_TRAIN_EVALUATOR_H_
#define SPACEBYTE_TRAIN_EVALUATOR_H_

// Evaluation, for the trainer's validation and test lines and for
// `spacebyte eval`; results in the one schema of train/metrics.h.
//
// A split of a prepared corpus: every byte scored exactly once. Each
// language's stream is cut into windows of T targets (each after BOS); where
// the patch rule runs past the global context, the targets from there on are
// left out of that window and the next window starts at the first of them.
// Losses are summed per byte, so languages and patch rules compare. A limit
// of windows per language may cut this short (coverage then says how much).
// Windows are shared out over the data-parallel ranks by index.

#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "model/byte_lm.h"
#include "parallel/collectives.h"
#include "train/metrics.h"

namespace spacebyte::trainer {

class Evaluator {
 public:
  // windows_per_language <= 0: the whole split.
  static absl::StatusOr<std::unique_ptr<Evaluator>> Open(const std::string& data_dir,
                                                         const std::string& split,
                                                         const ModelSpec& spec,
                                                         int64_t windows_per_language);

  // Collective over `dp` (and the tp group inside the model's forward).
  // `bf16`: under bfloat16 autocast, as training runs (train.precision);
  // else in float32.
  EvalResult Evaluate(ByteLm& model, int64_t step, parallel::Collectives& dp,
                      int64_t batch_size, bool bf16);

  int64_t windows() const { return targets_.size(0); }

 private:
  struct Language {
    std::string name;
    int64_t bytes = 0;            // in the split
    double ignored_fraction = 0;  // training view: plain T-byte windows
    double bytes_per_patch = 0;
    double refused_fraction = 0;  // training view: wanted boundaries refused
  };

  void AddLanguage(const std::string& name, const std::vector<uint8_t>& bytes,
                   const ModelSpec& spec, int64_t windows_per_language);

  std::string split_;
  std::vector<Language> languages_;
  std::vector<torch::Tensor> rows_;  // while opening
  std::vector<int64_t> row_language_, row_scored_;
  torch::Tensor targets_;   // [N, T] int64, -1 past the scored prefix
  torch::Tensor language_;  // [N] int64
  torch::Tensor scored_;    // [N] int64: targets scored in each window
};

// A raw byte file, the way the reference scores a batch: consecutive full
// T-byte windows, each preceded by BOS; `loss` is the mean over windows of
// each window's mean over its non-ignored targets. max_windows <= 0: all.
// Read a batch at a time, only as far as max_windows reaches.
absl::StatusOr<EvalResult> EvaluateBytesFile(ByteLm& model, const std::string& path,
                                             int64_t max_windows, int64_t batch_size,
                                             bool bf16);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_TRAIN_EVALUATOR_H_
