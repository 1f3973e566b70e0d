#include "train/training_session.h"

#include "absl/strings/str_cat.h"
#include "parallel/collective_watch.h"
#include "parallel/mpi_collectives.h"
#include "train/config_file.h"
#include "kernels/cpu_threads.h"
#include "kernels/heap_reuse.h"
#ifdef SPACEBYTE_WITH_NCCL
#include "parallel/nccl_collectives.h"
#include "parallel/world_group.h"
#endif

namespace spacebyte::trainer {

absl::StatusOr<std::unique_ptr<parallel::Collectives>> MakeCollectives(
    MPI_Comm comm, const torch::Device& device) {
  if (device.is_cpu()) return parallel::MakeMpiCollectives(comm);
#ifdef SPACEBYTE_WITH_NCCL
  return parallel::MakeNcclCollectives(comm, device.index());
#else
  (void)device;
  return absl::FailedPreconditionError(
      "train.device = cuda needs a build with -DSPACEBYTE_CUDA=ON (NCCL)");
#endif
}

absl::StatusOr<torch::Device> ComputeDevice(bool cuda, int local_rank) {
  if (!cuda) return torch::Device(torch::kCPU);
  if (!torch::cuda::is_available()) {
    return absl::FailedPreconditionError(
        "train.device = cuda, but this LibTorch has no CUDA device available");
  }
  // Ranks of a node share its devices round-robin; with one visible device
  // per rank (srun --gpu-bind, CUDA_VISIBLE_DEVICES) every rank gets cuda:0.
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(
                                         local_rank % torch::cuda::device_count()));
}

namespace {

// The config, its resolution and the device: this rank's alone.
absl::Status ResolveOnThisRank(const std::string& config_path,
                               const std::vector<std::string>& overrides,
                               const parallel::MpiEnv& env, TrainingSession& s) {
  absl::StatusOr<proto::RunConfig> config = LoadRunConfig(config_path, overrides);
  if (!config.ok()) return config.status();
  absl::StatusOr<RunSpec> spec = ResolveRunConfig(*config, env.world_size());
  if (!spec.ok()) return spec.status();
  s.spec = *spec;
  s.config = ResolvedConfig(*config, s.spec);
  const ModelSpec& m = s.spec.model;
  if (absl::Status st = parallel::CheckHeadsDivisible(
          m.kind == ModelKind::kSpaceByte ? "global blocks" : "blocks", m.d_model, m.d_key,
          s.spec.parallel.tp);
      !st.ok()) {
    return st;
  }
  absl::StatusOr<torch::Device> device = ComputeDevice(s.spec.train.cuda, env.local_rank());
  if (!device.ok()) return device.status();
  s.device = *device;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<TrainingSession>> StartSession(
    const std::string& config_path, const std::vector<std::string>& overrides,
    const parallel::MpiEnv& env) {
  auto s = std::make_unique<TrainingSession>();
  // Agreed before the first collective: a config file missing on one node
  // would otherwise leave the other ranks waiting in it, and an error every
  // rank sees is printed once.
  if (absl::Status st = parallel::WorldGroup().Agree(
          ResolveOnThisRank(config_path, overrides, env, *s));
      !st.ok()) {
    return st;
  }
  parallel::SetCollectiveTimeout(s->spec.parallel.collective_timeout_s);
  SetCpuThreads(env.IntraOpThreads(s->spec.train.threads));
  ReuseFreedHeapMemory();

  absl::StatusOr<parallel::ProcessGrid> grid = parallel::MakeProcessGrid(s->spec.parallel.tp);
  if (!grid.ok()) return grid.status();
  s->grid = std::make_unique<parallel::ProcessGrid>(std::move(*grid));
  for (auto [comm, out] : {std::pair{s->grid->tp_comm(), &s->tp},
                           std::pair{s->grid->dp_comm(), &s->dp}}) {
    absl::StatusOr<std::unique_ptr<parallel::Collectives>> c =
        MakeCollectives(comm, s->device);
    // Agreed: the ranks of a group whose NCCL setup failed return here,
    // while the others would go on into the next group's setup.
    if (absl::Status st = parallel::WorldGroup().Agree(c.status()); !st.ok()) return st;
    *out = std::move(*c);
  }

  // Same seed on every rank: replicas start equal, and shards are cut from
  // the same full weights.
  torch::manual_seed(s->spec.train.seed);
  s->model = MakeModel(s->spec.model);
  const std::map<std::string, double> multipliers = LearningRateMultipliers(*s->model);
  s->plan = ApplyTensorParallel(*s->model, *s->tp);
  s->model->to(s->device);
  s->model->SetActivationCheckpointing(s->spec.train.activation_checkpointing);
  // Sharded (ZeRO-1): dp rank r keeps the optimizer state of chunk r of
  // every gradient bucket.
  const int shards = s->spec.parallel.shard_optimizer ? s->grid->dp() : 1;
  s->optimizer = std::make_unique<Optimizer>(
      *s->model, multipliers, s->spec.train,
      parallel::LayoutOf(s->model->parameters(), s->spec.parallel.bucket_mb, shards),
      shards > 1 ? s->grid->dp_rank() : 0);
  s->step = std::make_unique<TrainStep>(*s->model, *s->optimizer, s->plan, *s->tp, *s->dp,
                                        s->spec);
  return s;
}

}  // namespace spacebyte::trainer
