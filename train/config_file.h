#ifndef SPACEBYTE_TRAIN_CONFIG_FILE_H_
#define SPACEBYTE_TRAIN_CONFIG_FILE_H_

// Reading a run config: protobuf text format plus `--set path=value`
// overrides, applied after the file.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/config.pb.h"

namespace spacebyte::trainer {

// Parses `path` (protobuf text format); errors name the file, line and
// column, including unknown fields.
absl::StatusOr<proto::RunConfig> ReadRunConfig(const std::string& path);

// Applies one `field.path=value` override, e.g. "model.d_model=256".
absl::Status ApplyOverride(const std::string& assignment, proto::RunConfig* config);

// File, then each override in order.
absl::StatusOr<proto::RunConfig> LoadRunConfig(const std::string& path,
                                               const std::vector<std::string>& overrides);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_TRAIN_CONFIG_FILE_H_
