#ifndef SPACEBYTE_CLI_BENCH_H_
#define SPACEBYTE_CLI_BENCH_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "parallel/mpi_env.h"

namespace spacebyte::trainer {

struct BenchOptions {
  std::string config;
  std::vector<std::string> overrides;
  int64_t steps = 10;
  int64_t warmup = 2;
  // Times the phases of the measured steps; the table goes to stderr and
  // the per-step milliseconds into the JSON line as "profile_ms".
  bool profile = false;
  // Non-empty: one more step under LibTorch's profiler, each rank's events
  // written to DIR/rankN_trace.json; the largest operators (kernels on
  // CUDA) go to stderr and into the JSON line as "top_ops".
  std::string trace_dir;
  // Also times evaluation's forward passes (no gradients, one micro-batch
  // each, as the evaluator runs them) in fp32 and, where the build has
  // autocast, bf16: "eval_bytes_per_s" {"fp32": .., "bf16": ..}.
  bool eval = false;
};

// `spacebyte bench`: trains `steps` steps on synthetic text-like bytes after
// `warmup` steps and returns one JSON line: bytes_per_s, step_s,
// model_flops_per_byte, achieved_gflops, matmul_peak_gflops (measured in the
// same run), mfu and peak_rss_mb (the largest resident set of any rank, in
// MiB; every rank's in peak_rss_mb_per_rank) and optimizer_state_mb_per_rank
// (the AdamW moments and step counts each rank holds, in MiB). Throughput
// counts every rank's bytes. With dp > 1 also grad_allreduce_s and grad_allreduce_share: one
// blocking all-reduce of the whole gradient and its share of the step time.
absl::StatusOr<std::string> Bench(const BenchOptions& options, const parallel::MpiEnv& env);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_CLI_BENCH_H_
