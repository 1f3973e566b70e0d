#include "parallel/nccl_collectives.h"

#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime.h>
#include <nccl.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
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

// Watches a communicator for the errors NCCL reports asynchronously (a
// network or remote failure): its kernels then spin for good, and the host
// with them at its next read of a result, so no error would ever reach the
// trainer. On one, aborts the communicator and the job (AbortAll: one line
// on stderr, MPI_Abort, exit code 1; MpiEnv asks for MPI_THREAD_MULTIPLE).
class AsyncErrorWatch {
 public:
  AsyncErrorWatch(ncclComm_t comm, int device, int rank)
      : thread_([this, comm, device, rank] { Run(comm, device, rank); }) {}
  ~AsyncErrorWatch() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

 private:
  void Run(ncclComm_t comm, int device, int rank) {
    cudaSetDevice(device);
    std::unique_lock<std::mutex> lock(mutex_);
    while (!wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_; })) {
      ncclResult_t state = ncclSuccess;
      if (ncclCommGetAsyncError(comm, &state) != ncclSuccess || state == ncclSuccess ||
          state == ncclInProgress) {
        continue;
      }
      const std::string message =
          absl::StrCat("NCCL failed on cuda:", device, " (rank ", rank, " of its group): ",
                       ncclGetErrorString(state), ": ", ncclGetLastError(comm));
      ncclCommAbort(comm);
      AbortAll(absl::UnavailableError(message));
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
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
        watch_(std::make_unique<AsyncErrorWatch>(comm, device, rank)) {}
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
    return std::make_unique<NcclPending>(RecordEvent(stream_), std::move(full), device_);
  }

 private:
  void Check(const torch::Tensor& t) const {
    TORCH_CHECK(t.is_cuda() && t.get_device() == device_,
                "NCCL collectives need tensors on cuda:", device_, ", got ",
                t.device());
    TORCH_CHECK(t.is_contiguous(), "NCCL collectives need contiguous tensors");
  }
  static cudaEvent_t RecordEvent(cudaStream_t stream) {
    cudaEvent_t event;
    SPACEBYTE_CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
    SPACEBYTE_CUDA_CHECK(cudaEventRecord(event, stream));
    return event;
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
  std::unique_ptr<AsyncErrorWatch> watch_;
};

// `mine`, settled over `comm` before any rank waits on the others: a rank
// that could not set its device (or, the root, make the id) would otherwise
// leave the rest in MPI_Bcast or ncclCommInitRank for good. Every rank
// returns an error if one failed; the one that failed says why.
absl::Status AgreeInGroup(MPI_Comm comm, const absl::Status& mine) {
  int ok = mine.ok() ? 1 : 0, all = 0;
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
  MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, comm);
  ncclComm_t nccl = nullptr;
  absl::Status made;
  if (ncclResult_t r = ncclCommInitRank(&nccl, size, id, rank); r != ncclSuccess) {
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
