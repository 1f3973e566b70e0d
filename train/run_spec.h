#ifndef SPACEBYTE_TRAIN_RUN_SPEC_H_
#define SPACEBYTE_TRAIN_RUN_SPEC_H_

// The resolved run: every default filled in, every size checked against the
// world. Built once from proto::RunConfig; the training loop reads only this.

#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "proto/config.pb.h"
#include "model/model_spec.h"

namespace spacebyte::trainer {

struct TrainSpec {
  int64_t steps = 0;             // schedule length, after any byte/FLOP budget
  int64_t batch_size = 0;        // global, samples
  int64_t micro_batch_size = 0;  // per rank
  int64_t accumulation = 1;      // micro-batches per rank per step
  double lr = 0;
  double warmup_fraction = 0.01;
  double weight_decay = 0.01, beta1 = 0.9, beta2 = 0.98, grad_clip = 1.0;
  uint64_t seed = 0;
  int64_t log_interval = 10;
  int64_t eval_interval = 0;
  int64_t eval_windows = 0;  // per language and split; 0 = every byte
  int64_t stop_at_step = 0;  // 0: run to `steps`
  double max_time = 0;       // seconds; 0: no limit
  bool activation_checkpointing = false;
  bool cuda = false;
  bool bf16 = false;  // autocast to bfloat16 (forward, loss, recomputed blocks)
  int threads = 0;
};

struct DataSpec {
  std::string path;
  uint64_t seed = 0;
  std::map<std::string, double> weights;
  std::optional<double> alpha;
  bool unimax = false;            // data.mixing = "unimax"
  double unimax_max_epochs = 1;
  bool skip_corrupt = false;
  int prefetch = 4;
};

struct CheckpointSpec {
  int64_t interval = 1000;  // 0: only at the end and on a stop signal
  int keep = 3;
  bool async = false;
};

struct ParallelSpec {
  int tp = 1;
  int dp = 1;
  double bucket_mb = 25;
  std::string backend = "auto";  // resolved: "mpi" (cpu) | "nccl" (cuda)
  bool shard_optimizer = false;  // ZeRO-1 over the dp ranks
  double collective_timeout_s = 600;  // 0: no limit
};

struct LogSpec {
  bool tensorboard = true;
};

struct RunSpec {
  ModelSpec model;
  TrainSpec train;
  DataSpec data;
  CheckpointSpec checkpoint;
  ParallelSpec parallel;
  LogSpec log;
};

// The precision rule of train.precision, for every setting that follows it:
// "bf16" | "fp32" | "" (bf16 on CUDA, fp32 on the CPU); true for bf16.
// Errors name `precision_name`, or `cuda_name` where the default chose bf16
// on a build that cannot run it.
absl::StatusOr<bool> ResolveBf16(const std::string& precision, bool cuda,
                                 const std::string& precision_name, const std::string& cuda_name);
// Its value's name: "bf16" | "fp32".
inline const char* PrecisionName(bool bf16) { return bf16 ? "bf16" : "fp32"; }

// Resolves `config` for a job of `world_size` ranks. Errors name the field.
absl::StatusOr<RunSpec> ResolveRunConfig(const proto::RunConfig& config, int world_size);

// The config with every resolved default written out, for the run directory
// and checkpoint manifests.
proto::RunConfig ResolvedConfig(const proto::RunConfig& config, const RunSpec& spec);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_TRAIN_RUN_SPEC_H_
