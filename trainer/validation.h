#ifndef SPACEBYTE_TRAINER_VALIDATION_H_
#define SPACEBYTE_TRAINER_VALIDATION_H_

// Held-out evaluation during training: a fixed set of windows, the first
// `windows_per_language` of each language of a split, scored overall and per
// language. Windows are shared out over the data-parallel ranks by index.

#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "parallel/collectives.h"
#include "trainer/byte_lm.h"
#include "trainer/metrics_writer.h"

namespace spacebyte::trainer {

class Validator {
 public:
  static absl::StatusOr<std::unique_ptr<Validator>> Open(const std::string& data_dir,
                                                         const std::string& split,
                                                         int64_t context,
                                                         int64_t windows_per_language);

  // Collective over `dp` (and the tp group inside the model's forward).
  EvalMetrics Evaluate(ByteLm& model, int64_t step, parallel::Collectives& dp,
                       int64_t batch_size);

  int64_t windows() const { return targets_.size(0); }

 private:
  std::string split_;
  std::vector<std::string> languages_;
  torch::Tensor targets_;   // [N, T] int64, -1 past a short window's end
  torch::Tensor language_;  // [N] int64
};

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_TRAINER_VALIDATION_H_
