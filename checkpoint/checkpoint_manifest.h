#ifndef SPACEBYTE_CHECKPOINT_CHECKPOINT_MANIFEST_H_
#define SPACEBYTE_CHECKPOINT_CHECKPOINT_MANIFEST_H_

// The checkpoint manifest's bytes and names, apart from the tensors (no
// LibTorch here, so the parser is fuzzed on its own: tests/fuzz/).
//
// manifest.pb is a serialised CheckpointManifest followed by its own CRC32C
// as field 11 (fixed32), so the checksum covers exactly the bytes before it
// and the file still parses as one message.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "proto/checkpoint.pb.h"

namespace spacebyte::trainer {

inline constexpr char kManifestName[] = "manifest.pb";
// 2: the manifest ends with its own CRC32C. Version 1 (none) still loads.
inline constexpr int kCheckpointFormatVersion = 2;

// "step_00000042"; more digits past 10^8 steps.
std::string StepDirName(int64_t step);
// The step a directory named by StepDirName holds; nullopt for other names.
std::optional<int64_t> StepOfDirName(const std::string& name);

// Bytes per element of a stored dtype ("float32", ...); 0 if unknown.
int64_t DtypeSize(const std::string& dtype);

// The file's bytes, format version and checksum set.
std::string SerializeManifest(proto::CheckpointManifest manifest);

// Checks the checksum (before parsing anything), the version, and that
// everything a reader relies on holds: file names stay inside the directory,
// every slice lies inside its tensor and its bytes inside its file, and the
// slices of one tensor agree on its shape and dtype. `path` names the file
// in messages.
absl::StatusOr<proto::CheckpointManifest> ParseManifest(const std::string& path,
                                                        const std::string& bytes);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_CHECKPOINT_CHECKPOINT_MANIFEST_H_
