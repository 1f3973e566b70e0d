#ifndef SPACEBYTE_TRAIN_METRICS_WRITER_H_
#define SPACEBYTE_TRAIN_METRICS_WRITER_H_

// What a run reports: one readable line per log interval (plus a progress bar
// with ETA when stderr is a terminal), the same figures as JSON Lines in
// RUN_DIR/metrics.jsonl (schema: train/metrics.h), and every number of each line as a TensorBoard
// scalar (train/tensorboard_writer.h): tag "train/KEY" for training lines,
// "SPLIT/KEY" and "SPLIT/KEY/LANGUAGE" for evaluations. Only the logging
// rank writes.

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "absl/status/status.h"
#include "train/metrics.h"
#include "train/tensorboard_writer.h"

namespace spacebyte::trainer {

// Seconds left at `step` of `steps`, from the pace of this process: it began
// at `first_step` (a resume's step, else 0) and has run `elapsed_s`.
double EtaSeconds(double elapsed_s, int64_t first_step, int64_t step, int64_t steps);

class MetricsWriter {
 public:
  // `resume_step` > 0 drops lines (and events) of a crashed run past that
  // step, so the record reads as one uninterrupted run. An empty
  // `tensorboard_dir` writes no event files.
  MetricsWriter(const std::string& path, bool active, int64_t resume_step,
                const std::string& tensorboard_dir);
  ~MetricsWriter();

  void Train(const TrainMetrics& m);
  void Eval(const EvalResult& r);
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
  int64_t first_step_;
  std::ofstream out_;
  std::unique_ptr<TensorBoardWriter> tensorboard_;
  absl::Status tensorboard_status_;
};

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_TRAIN_METRICS_WRITER_H_
