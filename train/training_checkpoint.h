#ifndef SPACEBYTE_TRAIN_TRAINING_CHECKPOINT_H_
#define SPACEBYTE_TRAIN_TRAINING_CHECKPOINT_H_

// Saving and restoring the whole training state across ranks.
//
// Save (collective): rank 0 makes step_N.tmp/; every rank with dp_rank 0
// (every rank, when the optimizer is sharded: each writes its dp slice of
// the weights and AdamW moments) writes its file (tensor-parallel shards of
// the global blocks, tp rank 0 adds the replicated tensors) and fsyncs it;
// the file descriptions are gathered to rank 0 together with a success flag;
// only if every write succeeded does rank 0 write the manifest and commit
// (rename, fsync, `latest`), then prune old checkpoints. With `async`, the
// tensors are copied and written by a background thread while training goes
// on; the commit happens at the next Save or at Finish.
//
// Restore: each rank reads the manifest and assembles its own shards from
// whatever layout saved them, so a run can resume on other dp and tp sizes.
//
// What a step depends on besides the weights and AdamW state is the data
// loader's position (saved in the manifest; the loader draws its samples from
// (seed, sample index), so it has no RNG state of its own) and the step
// number (learning rate schedule). Training uses no torch RNG (no dropout),
// so no torch generator state is saved.
//
// Crashes can be injected at each point of a save for tests: save_fault.h.

#include <memory>
#include <set>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "parallel/process_grid.h"
#include "proto/config.pb.h"
#include "model/byte_lm.h"
#include "checkpoint/checkpoint_io.h"
#include "train/optimizer.h"
#include "model/tensor_parallel_plan.h"

namespace spacebyte::trainer {

struct TrainingProgress {
  int64_t step = 0;        // steps completed
  int64_t bytes_seen = 0;  // training bytes consumed
  std::string loader_state;
};

class TrainingCheckpointer {
 public:
  TrainingCheckpointer(std::string run_dir, proto::RunConfig config, ByteLm& model,
                       Optimizer& optimizer, const TensorParallelPlan& plan,
                       const parallel::ProcessGrid& grid, int keep, bool async,
                       std::string dataset_fingerprint);
  ~TrainingCheckpointer();

  // Collective. Returns the same status on every rank.
  absl::Status Save(const TrainingProgress& progress);
  // Commits an asynchronous save still in flight. Collective.
  absl::Status Finish();

  // Loads model and optimizer state from an opened checkpoint, all or
  // nothing. Refuses a checkpoint saved with another config (except the
  // fields listed in kMayChangeOnResume) or on another dataset, and tensors
  // of another shape or dtype than the model's; each message names what
  // differs.
  absl::StatusOr<TrainingProgress> Restore(const CheckpointReader& reader);

  std::string checkpoints_dir() const;

 private:
  struct PendingWrite;
  std::vector<NamedSlice> CollectSlices();
  std::vector<int64_t> GlobalShape(const std::string& param, const torch::Tensor& local) const;
  // Reads `name`, checks it against the whole tensor `like` is (a shard of),
  // and returns this rank's shard of it.
  absl::StatusOr<torch::Tensor> ReadLocal(const CheckpointReader& reader, const std::string& name,
                                          const std::string& param,
                                          const torch::Tensor& like) const;
  absl::Status Commit(PendingWrite& write);

  std::string run_dir_;
  proto::RunConfig config_;
  std::string dataset_fingerprint_;
  ByteLm& model_;
  Optimizer& optimizer_;
  const TensorParallelPlan& plan_;
  const parallel::ProcessGrid& grid_;
  int keep_;
  bool async_;
  std::unique_ptr<PendingWrite> pending_;
  // Steps known to be complete (written or resumed from here): retention
  // need not read them again.
  std::set<int64_t> verified_steps_;
};

// Names the config fields that differ and may not change on resume, e.g.
// "model.d_model (checkpoint 64, config 128)"; empty if none.
std::string ConfigDifferences(const proto::RunConfig& saved, const proto::RunConfig& wanted);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_TRAIN_TRAINING_CHECKPOINT_H_
