// Data-parallel cost on CPU, printed as one JSON line by rank 0:
//   mpirun -np 2 build/bin/bench_allreduce [--width=256] [--layers=4]
//       [--batch=1024] [--steps=20] [--bucket_mb=25]
// The model is `layers` feed-forward blocks of width `width` (the shape of
// the global blocks, which hold most parameters), one intra-op thread per rank;
// `batch` rows per rank stand for the global-block positions of a micro-batch
// (e.g. 8 samples × 1024 bytes / 6 bytes per patch ≈ 1365).
// Figures: the blocking all-reduce time of the whole gradient and its share
// of a step; the step time with and without GradSync (the difference is the
// communication backward did not hide); weak-scaling efficiency = per-rank
// throughput on all ranks over rank 0's throughput alone.

#include <mpi.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "nlohmann/json.hpp"
#include "parallel/grad_sync.h"
#include "parallel/mpi_collectives.h"
#include "parallel/mpi_env.h"

namespace spacebyte::parallel {
namespace {

struct Options {
  int64_t width = 256, layers = 4, batch = 1024, steps = 20;
  double bucket_mb = 25;
};

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](const char* name) -> const char* {
      const std::string prefix = std::string("--") + name + "=";
      return arg.rfind(prefix, 0) == 0 ? argv[i] + prefix.size() : nullptr;
    };
    if (const char* v = value("width")) o.width = std::atoll(v);
    else if (const char* v = value("layers")) o.layers = std::atoll(v);
    else if (const char* v = value("batch")) o.batch = std::atoll(v);
    else if (const char* v = value("steps")) o.steps = std::atoll(v);
    else if (const char* v = value("bucket_mb")) o.bucket_mb = std::atof(v);
    else AbortAll(absl::InvalidArgumentError("unknown argument " + arg));
  }
  return o;
}

double Now() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch()).count();
}

torch::nn::Sequential MakeModel(const Options& o) {
  torch::manual_seed(0);
  torch::nn::Sequential model;
  for (int64_t i = 0; i < o.layers; ++i) {
    model->push_back(torch::nn::Linear(torch::nn::LinearOptions(o.width, 4 * o.width).bias(false)));
    model->push_back(torch::nn::ReLU());
    model->push_back(torch::nn::Linear(torch::nn::LinearOptions(4 * o.width, o.width).bias(false)));
  }
  return model;
}

// Seconds per step over `o.steps` steps (after one warm-up), synchronised
// across the ranks of `comm` at both ends.
// Lines the group's ranks up: a one-element sum returns on no rank before
// every rank has sent its part.
void Sync(Collectives& dp) {
  torch::Tensor token = torch::zeros({1});
  dp.AllReduceSum(token);
}

double StepSeconds(torch::nn::Sequential& model, Collectives& dp, const Options& o,
                   bool sync) {
  GradSync grad_sync(model->parameters(), dp, o.bucket_mb);
  torch::Tensor x = torch::randn({o.batch, o.width});
  auto step = [&] {
    grad_sync.Prepare(sync);
    model->forward(x).pow(2).mean().backward();
    if (sync) grad_sync.Finish();
    model->zero_grad();
  };
  step();
  Sync(dp);
  const double start = Now();
  for (int64_t i = 0; i < o.steps; ++i) step();
  Sync(dp);
  return (Now() - start) / o.steps;
}

double AllReduceSeconds(Collectives& dp, int64_t numel, int reps) {
  torch::Tensor grad = torch::randn({numel});
  dp.AllReduceSum(grad);
  Sync(dp);
  const double start = Now();
  for (int i = 0; i < reps; ++i) dp.AllReduceSum(grad);
  return (Now() - start) / reps;
}

// Rank 0 alone (dp = 1); the others wait without spinning on the CPU.
double AloneStepSeconds(torch::nn::Sequential& model, const Options& o, int rank) {
  double seconds = 0;
  if (rank == 0) {
    auto self = MakeMpiCollectives(MPI_COMM_SELF);
    seconds = StepSeconds(model, *self, o, /*sync=*/true);
  }
  MPI_Request request;
  MPI_Ibarrier(MPI_COMM_WORLD, &request);
  for (int done = 0; !done; MPI_Test(&request, &done, MPI_STATUS_IGNORE)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return seconds;
}

int Main(int argc, char** argv) {
  auto env = MpiEnv::Init(&argc, &argv);
  if (!env.ok()) AbortAll(env.status());
  const Options o = Parse(argc, argv);
  torch::set_num_threads(1);
  torch::nn::Sequential model = MakeModel(o);
  int64_t numel = 0;
  for (const torch::Tensor& p : model->parameters()) numel += p.numel();

  auto world = MakeMpiCollectives(MPI_COMM_WORLD);
  const double alone = AloneStepSeconds(model, o, env->world_rank());
  const double with_sync = StepSeconds(model, *world, o, /*sync=*/true);
  const double without_sync = StepSeconds(model, *world, o, /*sync=*/false);
  const double all_reduce = AllReduceSeconds(*world, numel, 10);
  if (env->world_rank() != 0) return 0;
  nlohmann::json out = {
      {"ranks", env->world_size()},
      {"params", numel},
      {"grad_mb", numel * 4.0 / (1 << 20)},
      {"bucket_mb", o.bucket_mb},
      {"batch_per_rank", o.batch},
      {"all_reduce_ms", all_reduce * 1e3},
      {"step_ms", with_sync * 1e3},
      {"step_ms_without_sync", without_sync * 1e3},
      {"step_ms_alone", alone * 1e3},
      {"all_reduce_fraction_of_step", all_reduce / with_sync},
      {"exposed_sync_fraction_of_step", (with_sync - without_sync) / with_sync},
      {"weak_scaling_efficiency", alone / with_sync},
  };
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

}  // namespace
}  // namespace spacebyte::parallel

int main(int argc, char** argv) { return spacebyte::parallel::Main(argc, argv); }
