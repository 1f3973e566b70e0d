#ifndef SPACEBYTE_TRAIN_TRAINING_SESSION_H_
#define SPACEBYTE_TRAIN_TRAINING_SESSION_H_

// Everything a rank sets up before its first step, shared by `train` and
// `bench`: resolved config, process grid, collectives, the model with tensor
// parallelism applied, the optimizer and the step function.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "parallel/collectives.h"
#include "parallel/mpi_env.h"
#include "parallel/process_grid.h"
#include "proto/config.pb.h"
#include "model/byte_lm.h"
#include "train/optimizer.h"
#include "train/run_spec.h"
#include "model/tensor_parallel_plan.h"
#include "train/train_step.h"

namespace spacebyte::trainer {

struct TrainingSession {
  proto::RunConfig config;  // resolved
  RunSpec spec;
  std::unique_ptr<parallel::ProcessGrid> grid;
  std::unique_ptr<parallel::Collectives> tp, dp;
  std::shared_ptr<ByteLm> model;
  TensorParallelPlan plan;
  std::unique_ptr<Optimizer> optimizer;
  std::unique_ptr<TrainStep> step;
  torch::Device device = torch::kCPU;

  bool logging_rank() const { return grid->world_rank() == 0; }
};

// The one rule for a rank's compute device, which the model, the batches
// and the NCCL collectives all use: CPU, or CUDA device local_rank modulo
// the visible devices. Errors when `cuda` and no device is visible.
absl::StatusOr<torch::Device> ComputeDevice(bool cuda, int local_rank);

// Collectives for tensors of `device` over `comm`: MPI for CPU tensors,
// NCCL (on its own stream) for CUDA ones. RunSpec's parallel.backend "auto"
// resolves by the same rule.
absl::StatusOr<std::unique_ptr<parallel::Collectives>> MakeCollectives(
    MPI_Comm comm, const torch::Device& device);

// Config file + overrides -> a ready session. Errors that every rank sees
// alike (bad config, world size) come back identically on every rank.
absl::StatusOr<std::unique_ptr<TrainingSession>> StartSession(
    const std::string& config_path, const std::vector<std::string>& overrides,
    const parallel::MpiEnv& env);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_TRAIN_TRAINING_SESSION_H_
