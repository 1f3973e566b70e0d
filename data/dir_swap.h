#ifndef SPACEBYTE_DATA_DIR_SWAP_H_
#define SPACEBYTE_DATA_DIR_SWAP_H_

// Replacing a directory whole. The new version is written into a staging
// directory beside it, every file is synced, and one atomic exchange puts it
// in place: killed at any moment, the directory holds the old version or the
// new one, never a mix, and never nothing.

#include <string>

#include "absl/status/statusor.h"

namespace spacebyte::data {

// A fresh, empty `dir.staging` (a leftover of a killed run is removed).
absl::StatusOr<std::string> MakeStagingDir(const std::string& dir);

// Syncs `staging`, swaps it into `dir`'s place (renaming when `dir` does not
// exist yet) and removes what was there before.
absl::Status SwapInStagingDir(const std::string& staging, const std::string& dir);

}  // namespace spacebyte::data

#endif  // SPACEBYTE_DATA_DIR_SWAP_H_
