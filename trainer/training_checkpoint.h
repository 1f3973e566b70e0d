#ifndef SPACEBYTE_TRAINER_TRAINING_CHECKPOINT_H_
#define SPACEBYTE_TRAINER_TRAINING_CHECKPOINT_H_

// Saving and restoring the whole training state across ranks.
//
// Save (collective): rank 0 makes step_N.tmp/; every rank with dp_rank 0
// writes its file (tensor-parallel shards of the global blocks, tp rank 0
// adds the replicated tensors; model weights and AdamW state) and fsyncs it;
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
// Fault injection for tests: with SPACEBYTE_TEST_KILL_DURING_SAVE=STEP in the
// environment, the last rank raises SIGKILL once its file for the save at
// STEP is written and before the ranks agree to commit, as a crash mid-save
// would; the step_STEP.tmp/ directory is left behind.

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "parallel/process_grid.h"
#include "proto/config.pb.h"
#include "trainer/byte_lm.h"
#include "trainer/checkpoint_io.h"
#include "trainer/optimizer.h"
#include "trainer/tensor_parallel_plan.h"

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
                       const parallel::ProcessGrid& grid, int keep, bool async);
  ~TrainingCheckpointer();

  // Collective. Returns the same status on every rank.
  absl::Status Save(const TrainingProgress& progress);
  // Commits an asynchronous save still in flight. Collective.
  absl::Status Finish();

  // Loads model and optimizer state from an opened checkpoint. The model
  // config must match; a mismatch names the fields.
  absl::StatusOr<TrainingProgress> Restore(const CheckpointReader& reader);

  std::string checkpoints_dir() const;

 private:
  struct PendingWrite;
  std::vector<NamedSlice> CollectSlices();
  absl::Status Commit(PendingWrite& write);

  std::string run_dir_;
  proto::RunConfig config_;
  ByteLm& model_;
  Optimizer& optimizer_;
  const TensorParallelPlan& plan_;
  const parallel::ProcessGrid& grid_;
  int keep_;
  bool async_;
  std::unique_ptr<PendingWrite> pending_;
};

// Names the model fields whose values differ, e.g. "d_model (64 vs 128)".
std::string ModelConfigDifferences(const proto::ModelConfig& saved,
                                   const proto::ModelConfig& wanted);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_TRAINER_TRAINING_CHECKPOINT_H_
