#ifndef SPACEBYTE_CHECKPOINT_CONVERT_H_
#define SPACEBYTE_CHECKPOINT_CONVERT_H_

#include <string>

#include "absl/status/status.h"

namespace spacebyte::trainer {

// Reference ckpt.pt -> our checkpoint under OUT_DIR/checkpoints (step 0).
// Optimizer state in the reference file is ignored.
absl::Status ConvertFromReference(const std::string& reference_path,
                                  const std::string& out_dir);

// Our checkpoint (any parallel layout) -> a reference ckpt.pt, slices merged.
absl::Status ConvertToReference(const std::string& checkpoint_path,
                                const std::string& reference_path);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_CHECKPOINT_CONVERT_H_
