#ifndef SPACEBYTE_TRAIN_EVALUATE_H_
#define SPACEBYTE_TRAIN_EVALUATE_H_

#include <string>

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "parallel/collectives.h"
#include "model/byte_lm.h"

namespace spacebyte::trainer {

struct EvalResult {
  double loss = 0;              // nats: mean over windows of each window's mean
  double bits_per_byte = 0;
  double ignored_fraction = 0;  // targets past the global context
  int64_t windows = 0;
};

// Accumulates per-window losses over batches.
class EvalAccumulator {
 public:
  void Add(const torch::Tensor& per_sample_loss, double ignored_fraction);
  EvalResult Result() const;

 private:
  double loss_sum_ = 0, ignored_sum_ = 0;
  int64_t windows_ = 0;
};

// Scores consecutive full T-byte windows of a raw byte file, each preceded by
// BOS; max_windows <= 0 means all.
absl::StatusOr<EvalResult> EvaluateBytesFile(ByteLm& model, const std::string& path,
                                             int64_t max_windows, int64_t batch_size);

std::string ToJson(const EvalResult& result);

// Scores a split of a prepared corpus (all windows, or the first
// `max_windows_per_language` of each language), shared over the ranks of
// `dp`; the JSON line adds `bits_per_byte_by_language`.
absl::StatusOr<std::string> EvaluateSplitJson(ByteLm& model, const std::string& data_dir,
                                              const std::string& split,
                                              int64_t max_windows_per_language,
                                              int64_t batch_size, parallel::Collectives& dp);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_TRAIN_EVALUATE_H_
