#ifndef SPACEBYTE_TRAIN_METRICS_LOG_H_
#define SPACEBYTE_TRAIN_METRICS_LOG_H_

// Reading RUN_DIR/metrics.jsonl back: the training and evaluation lines the
// trainer writes (schema in the trainer's metrics writer), for reports.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace spacebyte::trainer {

// A missing or null figure reads as NaN and is left out of plots.
struct TrainPoint {
  int64_t step = 0;
  double loss, bits_per_byte, lr, grad_norm, bytes_per_s;
};

struct EvalPoint {
  int64_t step = 0;
  std::string split;  // "validation" | "test"
  double loss, bits_per_byte, coverage;
  std::map<std::string, double> bits_per_byte_by_language;
  std::map<std::string, double> ignored_fraction_by_language;
  std::map<std::string, double> bytes_per_patch_by_language;
};

struct MetricsLog {
  std::vector<TrainPoint> train;
  std::vector<EvalPoint> eval;
};

// Errors name the file and the 1-based line: malformed JSON, a line that is
// not an object, a missing or non-integer `step`.
absl::StatusOr<MetricsLog> ReadMetricsLog(const std::string& path);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_TRAIN_METRICS_LOG_H_
