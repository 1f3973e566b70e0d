#ifndef SPACEBYTE_TRAIN_METRICS_H_
#define SPACEBYTE_TRAIN_METRICS_H_

// The schema of RUN_DIR/metrics.jsonl and of `spacebyte eval`'s line: one
// struct per kind of line, its JSON keys named once, in ToJson, and read
// back once, in ReadMetricsLog (reports and tests use it). A line with a
// `split` is an evaluation; any other line is a training line.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "absl/status/statusor.h"

namespace spacebyte::trainer {

// One training log interval. Read back, a missing or null figure is NaN
// (and left out of plots), a missing count is 0.
struct TrainMetrics {
  int64_t step = 0, steps = 0;  // step counts completed steps
  double loss = 0, lr = 0, grad_norm = 0;  // loss: nats per scored byte
  // Over the log interval's training steps: evaluations and saves inside it
  // are left out.
  double bytes_per_s = 0, flops_per_s = 0;
  std::optional<double> mfu;
  double ignored_fraction = 0;  // targets past the global context
  int64_t bytes_seen = 0;
  double elapsed_s = 0;  // wall seconds since this process began training

  double bits_per_byte() const;
};

// One evaluation (train/evaluator.h). For a split of a prepared corpus:
// losses per scored byte, coverage, and per language the bits per byte and
// how the patch rule cuts it. For a raw byte file (`split` empty): the
// reference's loss, a mean over windows of each window's mean.
struct EvalResult {
  int64_t step = 0;
  std::string split;            // "validation" | "test" | ...; empty for a byte file
  double loss = 0;              // nats
  double coverage = 0;          // scored / all bytes of the split
  double ignored_fraction = 0;  // training view: targets past TG in T-byte windows
  int64_t windows = 0;
  std::string precision;  // "fp32" | "bf16": what the forward passes ran in
  std::map<std::string, double> bits_per_byte_by_language;
  std::map<std::string, double> ignored_fraction_by_language;
  std::map<std::string, double> bytes_per_patch_by_language;
  // Training view: the share of the boundaries the multilingual rule wanted
  // that its budget refused; where it is large, TG rather than the text
  // decides the patches.
  std::map<std::string, double> refused_fraction_by_language;

  double bits_per_byte() const;
};

nlohmann::json ToJson(const TrainMetrics& m);
// A byte file's result has no step, split, coverage or languages.
nlohmann::json ToJson(const EvalResult& r);

struct MetricsLog {
  std::vector<TrainMetrics> train;
  std::vector<EvalResult> eval;
};

// Errors name the file and the 1-based line: malformed JSON, a line that is
// not an object, a missing or non-integer `step`, a non-string `split`, a
// per-language figure that is not an object.
absl::StatusOr<MetricsLog> ReadMetricsLog(const std::string& path);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_TRAIN_METRICS_H_
