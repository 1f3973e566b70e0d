#include "parallel/mpi_env.h"

#include <sched.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"

namespace spacebyte::parallel {

absl::StatusOr<MpiEnv> MpiEnv::Init(int* argc, char*** argv) {
  MpiEnv env;
  if (MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &env.thread_level_) !=
      MPI_SUCCESS) {
    return absl::UnavailableError("MPI_Init_thread failed");
  }
  env.owns_ = true;
  if (env.thread_level_ < MPI_THREAD_FUNNELED) {
    return absl::FailedPreconditionError(
        "this MPI library provides neither MPI_THREAD_MULTIPLE nor "
        "MPI_THREAD_FUNNELED");
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &env.world_rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &env.world_size_);
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, env.world_rank_,
                      MPI_INFO_NULL, &env.node_);
  MPI_Comm_rank(env.node_, &env.local_rank_);
  MPI_Comm_size(env.node_, &env.local_size_);
  return env;
}

MpiEnv::MpiEnv(MpiEnv&& other) noexcept
    : owns_(other.owns_),
      world_rank_(other.world_rank_),
      world_size_(other.world_size_),
      local_rank_(other.local_rank_),
      local_size_(other.local_size_),
      thread_level_(other.thread_level_),
      node_(other.node_) {
  other.owns_ = false;
  other.node_ = MPI_COMM_NULL;
}

MpiEnv::~MpiEnv() {
  if (!owns_) return;
  if (node_ != MPI_COMM_NULL) MPI_Comm_free(&node_);
  MPI_Finalize();
}

int MpiEnv::IntraOpThreads(int configured) const {
  if (configured > 0) return configured;
  const int machine = std::max(1u, std::thread::hardware_concurrency());
  cpu_set_t set;
  int allowed = machine;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) allowed = CPU_COUNT(&set);
  // A launcher that binds ranks (mpirun --bind-to core) has already divided
  // the node; otherwise every rank sees all CPUs and takes its share.
  if (allowed < machine) return std::max(1, allowed);
  return std::max(1, allowed / local_size_);
}

void AbortAll(const absl::Status& status) {
  int rank = 0, initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  std::fprintf(stderr, "rank %d: %s\n", rank, std::string(status.message()).c_str());
  std::fflush(stderr);
  if (initialized) MPI_Abort(MPI_COMM_WORLD, 1);
  std::_Exit(1);
}

}  // namespace spacebyte::parallel
