#ifndef SPACEBYTE_CHECKPOINT_CHECKPOINT_IO_H_
#define SPACEBYTE_CHECKPOINT_CHECKPOINT_IO_H_

// Checkpoint directories on disk. A checkpoint is
//   RUN_DIR/checkpoints/step_NNNNNNNN/{rank_RRRRR.bin..., manifest.pb}
// written as step_N.tmp/ and renamed once complete; the manifest is written
// last and records every file's size and CRC32C, so a directory with a valid
// manifest whose files match it is complete.

#include <set>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "proto/checkpoint.pb.h"
#include "checkpoint/checkpoint_manifest.h"

namespace spacebyte::trainer {


// One slice of a (possibly larger) tensor to store.
struct NamedSlice {
  std::string name;
  torch::Tensor data;                  // the slice itself
  std::vector<int64_t> global_shape;   // empty: the slice is the whole tensor
  std::vector<int64_t> start;          // empty: all zeros
};


// Writes slices into `path` (one rank's file) and fsyncs it. Appends one
// entry per slice to `entries` (file index left for the caller to set).
absl::StatusOr<proto::CheckpointFile> WriteTensorFile(
    const std::string& path, int rank, const std::vector<NamedSlice>& slices,
    std::vector<proto::TensorSlice>* entries);

// Writes the manifest (format version and checksum set here) into
// `tmp_dir`, renames it to `final_dir`, fsyncs the
// parent, and points `<parent>/latest` at it (write + rename).
absl::Status CommitCheckpoint(const std::string& tmp_dir, const std::string& final_dir,
                              const proto::CheckpointManifest& manifest);

// Keeps the newest `keep` (at least 1) valid step directories up to
// `newest_step`, the one just committed; removes every older step directory
// and every unfinished step_N.tmp/. Valid is what resume accepts: steps in
// `verified` (written or resumed from by this process) need only files of
// the recorded sizes; any other is verified in full once and added to it.
// Directories of later steps (left by a run that resumed from an earlier
// checkpoint because they were damaged) are left for that step's next save
// to replace.
absl::Status PruneCheckpoints(const std::string& checkpoints_dir, int keep,
                              int64_t newest_step, std::set<int64_t>* verified);

// A verified checkpoint: every file's size and CRC matched the manifest.
class CheckpointReader {
 public:
  // `path` is a step directory, a checkpoints directory or a run directory
  // (then the newest complete checkpoint is used).
  static absl::StatusOr<CheckpointReader> Open(const std::string& path);

  const proto::CheckpointManifest& manifest() const { return manifest_; }
  const std::string& dir() const { return dir_; }
  bool Has(const std::string& name) const;
  // The whole tensor, assembled from every slice that holds part of it.
  absl::StatusOr<torch::Tensor> Read(const std::string& name) const;

 private:
  friend absl::StatusOr<CheckpointReader> OpenStepDir(const std::string& step_dir,
                                                      bool verify);
  static CheckpointReader FromManifest(std::string dir, proto::CheckpointManifest manifest);

  std::string dir_;
  proto::CheckpointManifest manifest_;
};

// Opens one step directory: the manifest's checksum and its consistency
// (slices inside their tensors and files) are always checked; with `verify`,
// also every file's size and CRC32C, streamed in constant memory. Skip verification only for a directory that
// another rank has just verified.
absl::StatusOr<CheckpointReader> OpenStepDir(const std::string& step_dir, bool verify = true);

// The newest complete checkpoint under `checkpoints_dir`, verified once;
// damaged or unfinished ones are skipped, each reported in `skipped` as
// "path: reason".
absl::StatusOr<CheckpointReader> FindLatestCheckpoint(const std::string& checkpoints_dir,
                                                      std::vector<std::string>* skipped);

// Prints each skipped checkpoint as one "spacebyte: skipping ..." line on stderr.
void ReportSkippedCheckpoints(const std::vector<std::string>& skipped);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_CHECKPOINT_CHECKPOINT_IO_H_
