#include "cli/bench.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "kernels/autocast.h"
#include "kernels/cuda_info.h"
#include "kernels/flash_window_attention.h"
#include "kernels/matmul_peak.h"
#include "kernels/linear_relu.h"
#include "kernels/norm_rope.h"
#include "kernels/op_profile.h"
#include "kernels/phase_timer.h"
#include "torch/version.h"
#include "train/training_session.h"

namespace spacebyte::trainer {
namespace {

// Words of 1..10 lowercase letters between single spaces: about one patch
// boundary per 6 bytes, like English text.
torch::Tensor SyntheticText(int64_t rows, int64_t context, const torch::Device& device) {
  torch::Tensor letters = torch::randint('a', 'z' + 1, {rows, context}, torch::kLong);
  const torch::Tensor space = torch::rand({rows, context}).lt(1.0 / 6);
  return letters.masked_fill_(space, ' ').to(device);
}

// Peak resident set of every rank in MiB (Linux reports ru_maxrss in KiB).
std::vector<double> PeakRssMbPerRank(const parallel::WorldGroup& world) {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return world.AllGather(static_cast<double>(usage.ru_maxrss) / 1024.0);
}

nlohmann::json ProfileJson(int64_t steps) {
  nlohmann::json j = nlohmann::json::object();
  for (const PhaseTimer::Row& row : PhaseTimer::Rows()) j[row.path] = 1e3 * row.total_s / steps;
  return j;
}

// Seconds one blocking dp all-reduce of the whole gradient takes (one flat
// buffer: what GradSync sends when the model fits in one bucket), averaged
// over `reps`. An upper bound on a step's communication: GradSync overlaps
// part of it with backward.
double GradientAllReduceSeconds(const TrainingSession& s, int64_t reps) {
  int64_t numel = 0;
  for (const torch::Tensor& p : s.model->parameters()) numel += p.numel();
  torch::Tensor flat = torch::ones({numel}, torch::TensorOptions().device(s.device));
  s.dp->AllReduceSum(flat);  // warm-up
  // On CUDA, AllReduceSum only orders the stream: wait for the device at
  // both ends, or the clock times the launches.
  if (s.device.is_cuda()) SynchronizeCuda();
  s.grid->world().Barrier();
  const auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < reps; ++i) s.dp->AllReduceSum(flat);
  if (s.device.is_cuda()) SynchronizeCuda();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / reps;
}

// On a GPU, MFU is against the card's datasheet dense bf16 peak (what
// Megatron-LM and torchtitan report), not a self-timed product; the peak
// GPU memory is the caching allocator's, on this rank.
void AddCudaFields(const TrainingSession& s, double achieved_gflops, nlohmann::json* j) {
  const int index = s.device.index();
  if (std::optional<double> mb = PeakCudaMemoryMb(index)) (*j)["peak_gpu_memory_mb"] = *mb;
  const std::optional<CudaDeviceInfo> info = DescribeCudaDevice(index);
  if (!info) return;
  (*j)["gpu"] = info->name;
  (*j)["gpu_memory_gb"] = info->memory_gb;
  (*j)["local_attention"] =
      s.spec.train.bf16 && FlashWindowedAttentionWorks(s.device, s.spec.model.d_key)
          ? "flash sliding window"
          : "chunked SDPA";
  const torch::Tensor head = torch::empty(
      {1, 1, 1, s.spec.model.d_key}, torch::TensorOptions(torch::kBFloat16).device(s.device));
  (*j)["qk_norm_rope"] = NormRopeApplies(head) ? "fused kernel" : "separate ops";
  // The blocks' pre-norms: fused on the widths the kernel takes (up to 1024).
  int fused = 0, widths = 0;
  for (const int64_t width : {s.spec.model.d_model, s.spec.model.d_local}) {
    if (width <= 0) continue;
    ++widths;
    fused += NormRopeApplies(torch::empty({1, 1, 1, width}, head.options().dtype(torch::kFloat)));
  }
  (*j)["pre_norm"] = fused == widths ? "fused kernel"
                     : fused == 0    ? "separate ops"
                                     : "fused where <= 1024 wide";
  // The residual adds before them, judged on the rows every byte goes through.
  const torch::Tensor row = torch::empty({1, 1, 1, s.spec.model.byte_width()},
                                         head.options().dtype(torch::kFloat));
  (*j)["residual_add"] =
      AddNormApplies(row, row.to(torch::kBFloat16)) ? "in the pre-norm kernel" : "separate op";
  (*j)["ff_relu"] = s.spec.model.nonlinear == Nonlinear::kReLU && LinearReluApplies(head)
                        ? "in the product's epilogue"
                        : "separate op";
  if (info->peak_bf16_tflops) {
    const double peak_gflops = *info->peak_bf16_tflops * 1e3 * s.grid->world_size();
    (*j)["datasheet_bf16_tflops"] = *info->peak_bf16_tflops;
    (*j)["mfu"] = achieved_gflops / peak_gflops;
    (*j)["mfu_basis"] = "datasheet dense bf16";
  }
}

struct StepTimes {
  double seconds = 0;      // wall, until every rank is done
  double cpu_seconds = 0;  // this rank's process CPU
};

// Takes `steps` steps, with the device's queued work finished at the end.
StepTimes TimeSteps(TrainingSession& s, const torch::Tensor& targets, int64_t steps) {
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = ProcessCpuSeconds();
  for (int64_t i = 0; i < steps; ++i) s.step->Take(targets, s.spec.train.lr);
  if (s.device.is_cuda()) SynchronizeCuda();
  StepTimes times;
  times.cpu_seconds = ProcessCpuSeconds() - cpu_start;
  s.grid->world().Barrier();
  times.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return times;
}

// Bytes per second of `passes` forward passes as evaluation runs them
// (no gradients, the model in eval mode, a micro-batch of rows each, in
// `bf16` or fp32), after one untimed pass; every rank's bytes.
double EvalBytesPerS(TrainingSession& s, const torch::Tensor& targets, int64_t passes, bool bf16) {
  torch::NoGradGuard no_grad;
  const Autocast autocast(s.device.type(), bf16);
  s.model->eval();
  const torch::Tensor rows = targets.narrow(0, 0, s.spec.train.micro_batch_size);
  auto pass = [&] { ComputeLoss(s.model->Forward(TokensFromTargets(rows)), rows); };
  pass();
  if (s.device.is_cuda()) SynchronizeCuda();
  s.grid->world().Barrier();
  const auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < passes; ++i) pass();
  if (s.device.is_cuda()) SynchronizeCuda();
  s.grid->world().Barrier();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  s.model->train();
  return static_cast<double>(passes * rows.numel() * s.grid->dp()) / seconds;
}

// One more step under the profiler; its largest operators go into `j`
// and, on rank 0, as a table to stderr.
absl::Status TraceStep(TrainingSession& s, const torch::Tensor& targets, const std::string& dir,
                       int world_rank, nlohmann::json* j) {
  const std::string path = absl::StrCat(dir, "/rank", world_rank, "_trace.json");
  absl::StatusOr<OpProfile> profile = ProfileOps(
      [&] { s.step->Take(targets, s.spec.train.lr); }, s.device.is_cuda(), path);
  if (!profile.ok()) return profile.status();
  nlohmann::json top = nlohmann::json::array();
  for (size_t i = 0; i < profile->ops.size() && i < 25; ++i) {
    const OpTime& op = profile->ops[i];
    top.push_back({{"name", op.name}, {"ms", op.ms}, {"calls", op.calls}});
  }
  (*j)["top_ops"] = top;
  (*j)["top_ops_basis"] = profile->basis;
  (*j)["top_ops_total_ms"] = profile->total_ms;
  (*j)["trace"] = path;
  if (world_rank == 0) std::cerr << OpTable(*profile, 25, 1);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> Bench(const BenchOptions& options, const parallel::MpiEnv& env) {
  absl::StatusOr<std::unique_ptr<TrainingSession>> session =
      StartSession(options.config, options.overrides, env);
  if (!session.ok()) return session.status();
  TrainingSession& s = **session;
  const TrainSpec& t = s.spec.train;
  if (!options.trace_dir.empty()) {
    // A directory that cannot be made fails now, not after the timed steps.
    std::error_code error;
    std::filesystem::create_directories(options.trace_dir, error);
    if (error) {
      return absl::InvalidArgumentError(
          absl::StrCat("--trace ", options.trace_dir, ": ", error.message()));
    }
  }
  const int64_t rows = t.batch_size / s.grid->dp();
  const torch::Tensor targets = SyntheticText(rows, s.spec.model.context_size, s.device);
  for (int64_t i = 0; i < options.warmup; ++i) s.step->Take(targets, t.lr);

  if (s.device.is_cuda()) ResetPeakCudaMemory(s.device.index());
  s.grid->world().Barrier();
  PhaseTimer::Reset();
  // On a GPU the profile waits for the device at every phase, which would
  // slow the timed steps: it gets steps of its own after them.
  const bool cuda = s.device.is_cuda();
  PhaseTimer::Enable(options.profile && !cuda);
  const StepTimes timed = TimeSteps(s, targets, options.steps);
  const double seconds = timed.seconds, cpu_seconds = timed.cpu_seconds;
  PhaseTimer::Enable(false);
  StepTimes profiled = timed;
  if (options.profile && cuda) {
    PhaseTimer::Enable(true, &SynchronizeCuda);
    profiled = TimeSteps(s, targets, options.steps);
    PhaseTimer::Enable(false);
  }
  const std::vector<double> rss = PeakRssMbPerRank(s.grid->world());
  const std::vector<double> optimizer_mb =
      s.grid->world().AllGather(static_cast<double>(s.optimizer->StateBytes()) / (1 << 20));

  double peak_per_cpu_s = 0;
  const double peak =
      MeasureMatmulPeakGflops(s.device, t.bf16 ? torch::kBFloat16 : torch::kFloat, 2.0,
                              &peak_per_cpu_s) *
      s.grid->world_size();
  const double flops_per_byte = TrainingFlopsPerByte(s.spec.model);
  const double bytes_per_s =
      static_cast<double>(options.steps * t.batch_size * s.spec.model.context_size) / seconds;
  const double achieved = bytes_per_s * flops_per_byte / 1e9;
  // Model GFLOP per CPU-second of a rank against the matrix product's.
  const double mfu_cpu =
      achieved * seconds / s.grid->world_size() / cpu_seconds / peak_per_cpu_s;
  nlohmann::json j = {{"bytes_per_s", bytes_per_s},
                      {"step_s", seconds / options.steps},
                      {"model_flops_per_byte", flops_per_byte},
                      {"achieved_gflops", achieved},
                      {"matmul_peak_gflops", peak},
                      {"mfu", achieved / peak},
                      {"cpu_s_per_step", cpu_seconds / options.steps},
                      {"mfu_cpu", mfu_cpu},
                      {"world_size", s.grid->world_size()},
                      {"threads_per_rank", at::get_num_threads()},
                      {"peak_rss_mb", *std::max_element(rss.begin(), rss.end())},
                      {"peak_rss_mb_per_rank", rss},
                      {"optimizer_state_mb_per_rank", optimizer_mb},
                      {"shard_optimizer", s.optimizer->sharded()}};
  if (s.device.is_cuda()) AddCudaFields(s, achieved, &j);
  if (options.profile) {
    j["profile_ms"] = ProfileJson(options.steps);
    if (env.world_rank() == 0) {
      std::cerr << PhaseTimer::Table(options.steps, profiled.seconds, profiled.cpu_seconds);
    }
  }
  if (!options.trace_dir.empty()) {
    // The figures above took minutes of a rare machine: a trace that could
    // not be taken or written is reported beside them, not instead of them.
    if (absl::Status traced = TraceStep(s, targets, options.trace_dir, env.world_rank(), &j);
        !traced.ok()) {
      j["trace_error"] = std::string(traced.message());
      std::cerr << "bench: rank " << env.world_rank() << ": no trace: " << traced.message() << "\n";
    }
  }
  if (options.eval) {
    nlohmann::json eval = {{"fp32", EvalBytesPerS(s, targets, options.steps, false)}};
    if (TORCH_VERSION_MAJOR >= 2) eval["bf16"] = EvalBytesPerS(s, targets, options.steps, true);
    j["eval_bytes_per_s"] = eval;
  }
  if (s.grid->dp() > 1) {
    const double allreduce = GradientAllReduceSeconds(s, options.steps);
    j["grad_allreduce_s"] = allreduce;
    j["grad_allreduce_share"] = allreduce * options.steps / seconds;
  }
  return j.dump();
}

}  // namespace spacebyte::trainer
