#ifndef SPACEBYTE_CHECKPOINT_MODEL_CHECKPOINT_H_
#define SPACEBYTE_CHECKPOINT_MODEL_CHECKPOINT_H_

// Model weights in and out of our checkpoint directories (checkpoint_io.h),
// for the jobs that need only the model: eval, sample, convert.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "proto/config.pb.h"
#include "model/byte_lm.h"

namespace spacebyte::trainer {

inline constexpr char kModelPrefix[] = "model/";

struct LoadedModel {
  proto::RunConfig config;
  std::shared_ptr<ByteLm> model;
  int64_t step = 0;
  std::string dir;  // the step directory read
};

// Builds the model from the manifest's config and loads its weights, merging
// tensor-parallel slices whatever layout saved them.
absl::StatusOr<LoadedModel> LoadModelCheckpoint(const std::string& path);

// Writes a single-rank checkpoint holding only the model, committed with the
// usual protocol under RUN_DIR/checkpoints/.
absl::Status SaveModelCheckpoint(const std::string& run_dir, const proto::RunConfig& config,
                                 ByteLm& model, int64_t step);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_CHECKPOINT_MODEL_CHECKPOINT_H_
