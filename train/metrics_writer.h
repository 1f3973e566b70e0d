#ifndef SPACEBYTE_TRAIN_METRICS_WRITER_H_
#define SPACEBYTE_TRAIN_METRICS_WRITER_H_

// What a run reports: one readable line per log interval (plus a progress bar
// with ETA when stderr is a terminal), the same figures as JSON Lines in
// RUN_DIR/metrics.jsonl, and every number of each line as a TensorBoard
// scalar (train/tensorboard_writer.h): tag "train/KEY" for training lines,
// "SPLIT/KEY" and "SPLIT/KEY/LANGUAGE" for evaluations. Only the logging
// rank writes.

#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "absl/status/status.h"
#include "train/tensorboard_writer.h"

namespace spacebyte::trainer {

struct TrainMetrics {
  int64_t step = 0, steps = 0;  // step counts completed steps
  double loss = 0, lr = 0, grad_norm = 0;
  double bytes_per_s = 0, flops_per_s = 0;
  std::optional<double> mfu;
  double ignored_fraction = 0;
  int64_t bytes_seen = 0;
  double elapsed_s = 0;
};

// One evaluation of a split (train/validation.h): losses per byte over
// the bytes scored, and how the patch rule cuts each language.
struct EvalMetrics {
  int64_t step = 0;
  std::string split;
  double loss = 0;              // nats per scored byte
  double coverage = 0;          // scored / all bytes of the split
  double ignored_fraction = 0;  // training view: targets past TG in T-byte windows
  int64_t windows = 0;
  std::map<std::string, double> bits_per_byte_by_language;
  std::map<std::string, double> ignored_fraction_by_language;
  std::map<std::string, double> bytes_per_patch_by_language;
};

// The JSON object of an evaluation line: metrics.jsonl and `spacebyte eval`.
std::string EvalJson(const EvalMetrics& m);

class MetricsWriter {
 public:
  // `resume_step` > 0 drops lines (and events) of a crashed run past that
  // step, so the record reads as one uninterrupted run. An empty
  // `tensorboard_dir` writes no event files.
  MetricsWriter(const std::string& path, bool active, int64_t resume_step,
                const std::string& tensorboard_dir);
  ~MetricsWriter();

  void Train(const TrainMetrics& m);
  void Eval(const EvalMetrics& m);
  void Message(const std::string& text);

  // An error naming the file once a line or event failed to reach it (a
  // full disk), so the run stops instead of losing its record; OK on
  // inactive ranks.
  absl::Status status() const;

 private:
  void ClearProgress();
  // Writes `line` to metrics.jsonl and its numbers as TensorBoard scalars
  // under `prefix`.
  void Record(int64_t step, const std::string& prefix, const nlohmann::json& line);
  std::string path_;
  bool active_;
  bool terminal_;
  std::ofstream out_;
  std::unique_ptr<TensorBoardWriter> tensorboard_;
  absl::Status tensorboard_status_;
};

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_TRAIN_METRICS_WRITER_H_
