#include "parallel/nccl_collectives.h"

#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime.h>
#include <nccl.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "parallel/collective_watch.h"
#include "parallel/mpi_env.h"

namespace spacebyte::parallel {
namespace {

#define SPACEBYTE_NCCL_CHECK(call)                                          \
  do {                                                                      \
    ncclResult_t result_ = (call);                                          \
    TORCH_CHECK(result_ == ncclSuccess, #call ": ", ncclGetErrorString(result_)); \
  } while (0)
#define SPACEBYTE_CUDA_CHECK(call)                                          \
  do {                                                                      \
    cudaError_t error_ = (call);                                            \
    TORCH_CHECK(error_ == cudaSuccess, #call ": ", cudaGetErrorString(error_)); \
  } while (0)

ncclDataType_t NcclType(const torch::Tensor& t) {
  switch (t.scalar_type()) {
    case torch::kFloat: return ncclFloat32;
    case torch::kDouble: return ncclFloat64;
    case torch::kHalf: return ncclFloat16;
    case torch::kBFloat16: return ncclBfloat16;
    case torch::kInt: return ncclInt32;
    case torch::kLong: return ncclInt64;
    default:
      TORCH_CHECK(false, "NCCL collectives do not support ", t.scalar_type());
  }
}

// The compute stream: where LibTorch runs this thread's kernels on `device`.
cudaStream_t ComputeStream(int device) {
  return c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(device)).stream();
}

class NcclPending : public PendingCollective {
 public:
  NcclPending(cudaEvent_t event, torch::Tensor tensor, int device)
      : event_(event), tensor_(std::move(tensor)), device_(device) {}
  ~NcclPending() override { cudaEventDestroy(event_); }
  // Orders the compute stream after the collective without blocking the
  // host: later kernels, and any read back to the host, see the result.
  void Wait() override {
    SPACEBYTE_CUDA_CHECK(cudaStreamWaitEvent(ComputeStream(device_), event_, 0));
  }
  // cudaEventQuery leaves "not ready" as the thread's last CUDA error, and
  // the next LibTorch kernel launch checks that error and throws: clear it,
  // as c10::cuda::CUDAEvent::query does.
  bool Done() override {
    const cudaError_t state = cudaEventQuery(event_);
    if (state == cudaErrorNotReady) {
      (void)cudaGetLastError();
      return false;
    }
    SPACEBYTE_CUDA_CHECK(state);
    return true;
  }

 private:
  cudaEvent_t event_;
  torch::Tensor tensor_;  // kept alive while NCCL writes into it
  int device_;
};

cudaEvent_t RecordEvent(cudaStream_t stream) {
  cudaEvent_t event;
  SPACEBYTE_CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
  SPACEBYTE_CUDA_CHECK(cudaEventRecord(event, stream));
  return event;
}

// Watches a communicator from a thread of its own, once a second, for what
// would otherwise hang the job with no error reaching the trainer: NCCL's
// kernels spin for good, and the host with them at its next read of a
// result. It ends the job (ncclCommAbort, then AbortAll: one line on stderr,
// MPI_Abort, exit code 1; MpiEnv asks for MPI_THREAD_MULTIPLE) when
//   - NCCL reports an error asynchronously (a network or remote failure), or
//   - a collective has not finished parallel.collective_timeout_s after its
//     launch (another rank stuck or gone; collective_watch.h).
class NcclWatch {
 public:
  NcclWatch(ncclComm_t comm, int device, int rank)
      : comm_(comm), device_(device), rank_(rank), thread_([this] { Run(); }) {}
  ~NcclWatch() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
    for (const Launch& l : in_flight_) cudaEventDestroy(l.done);
  }

  // Times the collective just launched on `stream` (the device's current).
  void Launched(const char* what, cudaStream_t stream) {
    if (CollectiveTimeout() <= 0) return;
    cudaEvent_t done = RecordEvent(stream);
    std::lock_guard<std::mutex> lock(mutex_);
    in_flight_.push_back({done, Clock::now(), what, CurrentCollectivePhase()});
  }

 private:
  using Clock = std::chrono::steady_clock;
  struct Launch {
    cudaEvent_t done;
    Clock::time_point at;
    const char* what;
    const char* phase;
  };

  void Run() {
    cudaSetDevice(device_);
    std::unique_lock<std::mutex> lock(mutex_);
    SuspensionClock suspension;
    while (!wake_.wait_for(lock, kPeriod, [this] { return stop_; })) {
      ncclResult_t state = ncclSuccess;
      if (ncclCommGetAsyncError(comm_, &state) == ncclSuccess && state != ncclSuccess &&
          state != ncclInProgress) {
        Abort(absl::StrCat("NCCL failed on cuda:", device_, " (rank ", rank_,
                           " of its group): ", ncclGetErrorString(state), ": ",
                           ncclGetLastError(comm_)));
      }
      suspension.Tick(kPeriod);
      for (Launch& l : in_flight_) l.at = suspension.Forgiven(l.at);
      if (std::string late = OldestLate(); !late.empty()) Abort(late);
    }
  }

  // Forgets the collectives that have finished (in launch order: they share
  // one stream), then checks the age of the oldest left: what to say if it
  // is late, or "".
  std::string OldestLate() {
    while (!in_flight_.empty()) {
      const cudaError_t state = cudaEventQuery(in_flight_.front().done);
      if (state == cudaErrorNotReady) {
        (void)cudaGetLastError();  // "not ready" is no error: see NcclPending::Done
        break;
      }
      cudaEventDestroy(in_flight_.front().done);  // done, or failed: the trainer sees that
      in_flight_.pop_front();
    }
    const double limit = CollectiveTimeout();
    if (limit <= 0 || in_flight_.empty()) return "";
    const Launch& oldest = in_flight_.front();
    if (Clock::now() - oldest.at < std::chrono::duration<double>(limit)) return "";
    return absl::StrCat(
        oldest.what, " on cuda:", device_, " (rank ", rank_, " of its group",
        *oldest.phase != '\0' ? absl::StrCat(", ", oldest.phase) : "", ") has not finished ",
        limit, " s after its launch (parallel.collective_timeout_s): another rank is stuck or "
        "gone, or needs longer (then raise the limit); ending the job");
  }

  [[noreturn]] void Abort(const std::string& message) {
    ncclCommAbort(comm_);
    AbortAll(absl::UnavailableError(message));
  }

  static constexpr std::chrono::seconds kPeriod{1};

  ncclComm_t comm_;
  int device_, rank_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::deque<Launch> in_flight_;
  std::thread thread_;  // last: starts once the members above exist
};

class NcclCollectives : public Collectives {
 public:
  NcclCollectives(ncclComm_t comm, cudaStream_t stream, int device, int rank,
                  int size)
      : Collectives(rank, size),
        comm_(comm),
        stream_(stream),
        device_(device),
        watch_(std::make_unique<NcclWatch>(comm, device, rank)) {}
  ~NcclCollectives() override {
    const c10::cuda::CUDAGuard on(static_cast<c10::DeviceIndex>(device_));
    watch_.reset();  // before the communicator it polls goes
    ncclCommDestroy(comm_);
    cudaStreamDestroy(stream_);
  }

  std::unique_ptr<PendingCollective> AllReduceSumAsync(
      torch::Tensor tensor) override {
    // Events and streams belong to the current device: make it ours, whatever
    // thread calls.
    const c10::cuda::CUDAGuard on(static_cast<c10::DeviceIndex>(device_));
    Check(tensor);
    AfterCompute(tensor);
    SPACEBYTE_NCCL_CHECK(ncclAllReduce(tensor.data_ptr(), tensor.data_ptr(),
                                       tensor.numel(), NcclType(tensor), ncclSum,
                                       comm_, stream_));
    watch_->Launched("an NCCL all-reduce", stream_);
    return std::make_unique<NcclPending>(RecordEvent(stream_), std::move(tensor), device_);
  }

  std::unique_ptr<PendingCollective> StartReduceScatterSum(torch::Tensor full,
                                                           torch::Tensor chunk) override {
    const c10::cuda::CUDAGuard on(static_cast<c10::DeviceIndex>(device_));
    Check(full);
    Check(chunk);
    AfterCompute(full);
    AfterCompute(chunk);
    SPACEBYTE_NCCL_CHECK(ncclReduceScatter(full.data_ptr(), chunk.data_ptr(), chunk.numel(),
                                           NcclType(full), ncclSum, comm_, stream_));
    watch_->Launched("an NCCL reduce-scatter", stream_);
    return std::make_unique<NcclPending>(RecordEvent(stream_), std::move(chunk), device_);
  }

  std::unique_ptr<PendingCollective> StartAllGather(torch::Tensor full) override {
    const c10::cuda::CUDAGuard on(static_cast<c10::DeviceIndex>(device_));
    Check(full);
    AfterCompute(full);
    const int64_t count = full.numel() / size();
    // In place: NCCL reads this rank's chunk where it already sits.
    const char* mine = static_cast<const char*>(full.data_ptr()) +
                       rank() * count * static_cast<int64_t>(full.element_size());
    SPACEBYTE_NCCL_CHECK(ncclAllGather(mine, full.data_ptr(), count, NcclType(full), comm_,
                                       stream_));
    watch_->Launched("an NCCL all-gather", stream_);
    return std::make_unique<NcclPending>(RecordEvent(stream_), std::move(full), device_);
  }

 private:
  void Check(const torch::Tensor& t) const {
    TORCH_CHECK(t.is_cuda() && t.get_device() == device_,
                "NCCL collectives need tensors on cuda:", device_, ", got ",
                t.device());
    TORCH_CHECK(t.is_contiguous(), "NCCL collectives need contiguous tensors");
  }
  // NCCL runs on its own stream so it overlaps backward. It must start only
  // after the compute stream has written `t`, and the caching allocator must
  // not hand t's memory to the compute stream again before NCCL is done.
  void AfterCompute(const torch::Tensor& t) {
    cudaEvent_t ready = RecordEvent(ComputeStream(device_));
    SPACEBYTE_CUDA_CHECK(cudaStreamWaitEvent(stream_, ready, 0));
    SPACEBYTE_CUDA_CHECK(cudaEventDestroy(ready));
    c10::cuda::CUDACachingAllocator::recordStream(
        t.storage().data_ptr(),
        c10::cuda::getStreamFromExternal(stream_, static_cast<c10::DeviceIndex>(device_)));
  }

  ncclComm_t comm_;
  cudaStream_t stream_;
  int device_;
  std::unique_ptr<NcclWatch> watch_;
};

// `mine`, settled over `comm` before any rank waits on the others: a rank
// that could not set its device (or, the root, make the id) would otherwise
// leave the rest in MPI_Bcast or ncclCommInitRank for good. Every rank
// returns an error if one failed; the one that failed says why.
absl::Status AgreeInGroup(MPI_Comm comm, const absl::Status& mine) {
  int ok = mine.ok() ? 1 : 0, all = 0;
  const CollectiveWait wait("the NCCL setup's agreement");
  MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, comm);
  if (all == 1) return absl::OkStatus();
  return mine.ok() ? absl::UnavailableError("another rank of this NCCL group failed to set up")
                   : mine;
}

absl::Status SetDeviceAndMakeId(int device, bool root, ncclUniqueId* id) {
  if (cudaError_t e = cudaSetDevice(device); e != cudaSuccess) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot use CUDA device ", device, ": ", cudaGetErrorString(e)));
  }
  if (!root) return absl::OkStatus();
  if (ncclResult_t r = ncclGetUniqueId(id); r != ncclSuccess) {
    return absl::UnavailableError(absl::StrCat("ncclGetUniqueId: ", ncclGetErrorString(r)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Collectives>> MakeNcclCollectives(MPI_Comm comm,
                                                                 int device) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  ncclUniqueId id;
  if (absl::Status st = AgreeInGroup(comm, SetDeviceAndMakeId(device, rank == 0, &id));
      !st.ok()) {
    return st;
  }
  ncclComm_t nccl = nullptr;
  ncclResult_t r = ncclSuccess;
  {
    const CollectiveWait wait("the NCCL setup (its id broadcast and ncclCommInitRank)");
    MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, comm);
    r = ncclCommInitRank(&nccl, size, id, rank);
  }
  absl::Status made;
  if (r != ncclSuccess) {
    nccl = nullptr;
    made = absl::UnavailableError(absl::StrCat("ncclCommInitRank on device ", device, ": ",
                                               ncclGetErrorString(r)));
  }
  cudaStream_t stream = nullptr;
  if (made.ok()) {
    if (cudaError_t e = cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
        e != cudaSuccess) {
      made = absl::UnavailableError(absl::StrCat("cudaStreamCreate: ", cudaGetErrorString(e)));
    }
  }
  // A rank whose communicator or stream failed takes the group down with it,
  // rather than leaving the others in their first collective.
  if (absl::Status st = AgreeInGroup(comm, made); !st.ok()) {
    if (stream != nullptr) cudaStreamDestroy(stream);
    if (nccl != nullptr) ncclCommAbort(nccl);
    return st;
  }
  return std::unique_ptr<Collectives>(
      std::make_unique<NcclCollectives>(nccl, stream, device, rank, size));
}

}  // namespace spacebyte::parallel
