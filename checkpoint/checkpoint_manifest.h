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
#include "proto/config.pb.h"

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

// The one way a manifest is put together, by the model-only save and by the
// training checkpointer's rank 0: what the checkpoint continues, then each
// rank's file with the tensor slices stored in it.
class ManifestBuilder {
 public:
  ManifestBuilder(int64_t step, const proto::RunConfig& config, int dp, int tp);
  // Where training stands: the data loader, bytes trained on, the dataset.
  void SetProgress(const std::string& loader_state, int64_t bytes_seen,
                   const std::string& dataset_fingerprint);
  // A file and the slices in it (any range of proto::TensorSlice); their
  // `file` index is set here.
  template <typename Slices>
  void AddFile(const proto::CheckpointFile& file, const Slices& slices) {
    const int index = manifest_.files_size();
    *manifest_.add_files() = file;
    for (const proto::TensorSlice& slice : slices) {
      proto::TensorSlice& added = *manifest_.add_tensors();
      added = slice;
      added.set_file(index);
    }
  }
  const proto::CheckpointManifest& manifest() const { return manifest_; }

 private:
  proto::CheckpointManifest manifest_;
};

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
