#include "checkpoint/convert.h"

#include "checkpoint/model_checkpoint.h"
#include "checkpoint/reference_checkpoint.h"

namespace spacebyte::trainer {

absl::Status ConvertFromReference(const std::string& reference_path,
                                  const std::string& out_dir) {
  absl::StatusOr<ReferenceCheckpoint> ref = ReadReferenceCheckpoint(reference_path);
  if (!ref.ok()) return ref.status();
  std::shared_ptr<ByteLm> model = MakeModel(ref->spec);
  if (absl::Status s = LoadNamedTensors(*model, ref->state_dict, reference_path); !s.ok()) {
    return s;
  }
  proto::RunConfig config;
  *config.mutable_model() = ToProto(ref->spec);
  return SaveModelCheckpoint(out_dir, config, *model, /*step=*/0);
}

absl::Status ConvertToReference(const std::string& checkpoint_path,
                                const std::string& reference_path) {
  absl::StatusOr<LoadedModel> loaded = LoadModelCheckpoint(checkpoint_path);
  if (!loaded.ok()) return loaded.status();
  return WriteReferenceCheckpoint(reference_path, *loaded->model);
}

}  // namespace spacebyte::trainer
