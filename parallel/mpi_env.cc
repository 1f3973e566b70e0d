#include "parallel/mpi_env.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "parallel/collective_watch.h"

namespace spacebyte::parallel {
namespace {

// What AbortAll may do, from any thread: set once MPI is up, cleared before
// it finalizes. MPI below MPI_THREAD_MULTIPLE may be called from its main
// thread only.
struct AbortState {
  std::atomic<bool> mpi_up{false};
  std::atomic<int> world_rank{0};
  std::atomic<int> thread_level{MPI_THREAD_SINGLE};
  std::thread::id main_thread;
};
AbortState& TheAbortState() {
  static AbortState* state = new AbortState;  // AbortAll may run at exit
  return *state;
}

}  // namespace

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
  AbortState& abort = TheAbortState();
  abort.world_rank = env.world_rank_;
  abort.thread_level = env.thread_level_;
  abort.main_thread = std::this_thread::get_id();
  abort.mpi_up = true;
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
  TheAbortState().mpi_up = false;
  if (node_ != MPI_COMM_NULL) MPI_Comm_free(&node_);
  // Open MPI and MPICH synchronise the ranks here: a rank frozen after the
  // last collective would hold the others.
  const CollectiveWait wait("MPI_Finalize");
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
  const AbortState& state = TheAbortState();
  std::fprintf(stderr, "rank %d: %s\n", state.world_rank.load(),
               std::string(status.message()).c_str());
  std::fflush(stderr);
  // Elsewhere (a watch thread under MPI_THREAD_FUNNELED or SERIALIZED) the
  // exit alone ends the job: mpirun kills the other ranks, and
  // launch/slurm.sbatch runs srun with --kill-on-bad-exit.
  if (state.mpi_up && (state.thread_level >= MPI_THREAD_MULTIPLE ||
                       std::this_thread::get_id() == state.main_thread)) {
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  std::_Exit(1);
}

}  // namespace spacebyte::parallel
