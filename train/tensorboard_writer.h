#ifndef SPACEBYTE_TRAIN_TENSORBOARD_WRITER_H_
#define SPACEBYTE_TRAIN_TENSORBOARD_WRITER_H_

// TensorBoard event files, RUN_DIR/tensorboard/events.out.tfevents.*: the
// scalars of each metrics.jsonl line (train/metrics_writer.h decides
// which), as TensorBoard's own Event records (proto/tensorboard.proto) in
// TFRecord framing. Each run of the program starts a new file, as
// TensorFlow's writers do; a resumed run first removes, from the files
// already there, the events past the step it resumes from, so TensorBoard
// shows every step once.

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace spacebyte::trainer {

class TensorBoardWriter {
 public:
  static absl::StatusOr<std::unique_ptr<TensorBoardWriter>> Open(const std::string& dir,
                                                                 int64_t resume_step);
  ~TensorBoardWriter();

  // One event holding every (tag, value) at `step`, flushed so that a
  // TensorBoard watching the directory shows it at once.
  absl::Status Scalars(int64_t step, const std::vector<std::pair<std::string, double>>& values);

 private:
  TensorBoardWriter(std::string path, std::FILE* file) : path_(std::move(path)), file_(file) {}
  absl::Status Append(const std::string& event);

  std::string path_;
  std::FILE* file_;
};

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_TRAIN_TENSORBOARD_WRITER_H_
