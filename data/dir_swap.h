#ifndef SPACEBYTE_DATA_DIR_SWAP_H_
#define SPACEBYTE_DATA_DIR_SWAP_H_

// Replacing a directory whole. The new version is written into a staging
// directory beside it, every file is synced, and one atomic exchange puts it
// in place: killed at any moment, the directory holds the old version or the
// new one, never a mix, and never nothing.

#include <string>

#include "absl/status/statusor.h"

namespace spacebyte::data {

// `dir.staging`: where the new version of `dir` is written.
std::string StagingDirOf(const std::string& dir);

// A fresh `dir.staging` holding only kStagingMarker. A leftover of a killed
// run holds the marker (the swapped-in directory keeps it) and is removed;
// any other directory of that name is the user's and is refused.
absl::StatusOr<std::string> MakeStagingDir(const std::string& dir);
inline constexpr char kStagingMarker[] = ".spacebyte_staging";

// Syncs `staging`, swaps it into `dir`'s place (renaming when `dir` does not
// exist yet) and removes what was there before.
absl::Status SwapInStagingDir(const std::string& staging, const std::string& dir);

}  // namespace spacebyte::data

#endif  // SPACEBYTE_DATA_DIR_SWAP_H_
