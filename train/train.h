#ifndef SPACEBYTE_TRAIN_TRAIN_H_
#define SPACEBYTE_TRAIN_TRAIN_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "parallel/mpi_env.h"

namespace spacebyte::trainer {

struct TrainOptions {
  std::string config;
  std::vector<std::string> overrides;  // --set path=value
  std::string run_dir;                 // default: runs/<config name>
  bool resume = false;                 // insist on resuming
};

// `spacebyte train`: the whole run on every rank of the job. A run directory
// that already holds a complete checkpoint resumes from it. A stop signal
// (stop_signals.h; main installs the handlers) ends it early with a
// checkpoint and sets *preempted.
absl::Status Train(const TrainOptions& options, const parallel::MpiEnv& env,
                   bool* preempted);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_TRAIN_TRAIN_H_
