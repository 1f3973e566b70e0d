#include "parallel/mpi_collectives.h"

#include <functional>
#include <utility>
#include <vector>

#include "parallel/collective_watch.h"

namespace spacebyte::parallel {
namespace {

// MPI has no 16-bit floats. Sums widen them to float first (Widened below),
// so a 16-bit type reaches MpiType only to be moved, as raw 16-bit words.
MPI_Datatype MpiType(const torch::Tensor& t) {
  switch (t.scalar_type()) {
    case torch::kFloat: return MPI_FLOAT;
    case torch::kDouble: return MPI_DOUBLE;
    case torch::kInt: return MPI_INT32_T;
    case torch::kLong: return MPI_INT64_T;
    case torch::kBFloat16:
    case torch::kHalf: return MPI_UINT16_T;
    default:
      TORCH_CHECK(false, "MPI collectives do not support ", t.scalar_type());
  }
}

bool IsHalf(const torch::Tensor& t) {
  return t.scalar_type() == torch::kBFloat16 || t.scalar_type() == torch::kHalf;
}

// What a sum runs on: `t` itself, or a float copy of a 16-bit tensor (bf16
// activations under CPU autocast with tp > 1), rounded back once at the end.
torch::Tensor Widened(const torch::Tensor& t) { return IsHalf(t) ? t.to(torch::kFloat) : t; }

void CheckBuffer(const torch::Tensor& t) {
  TORCH_CHECK(t.device().is_cpu(), "MPI collectives need CPU tensors, got ",
              t.device());
  TORCH_CHECK(t.is_contiguous(), "MPI collectives need contiguous tensors");
  TORCH_CHECK(t.numel() <= INT32_MAX, "tensor too large for one MPI call");
}

void CheckThread(int level) {
  int is_main = 1;
  if (level < MPI_THREAD_SERIALIZED) MPI_Is_thread_main(&is_main);
  TORCH_CHECK(is_main, "MPI provides only MPI_THREAD_FUNNELED, and a collective "
                       "was called from a thread other than the main one");
}

class MpiPending : public PendingCollective {
 public:
  // `what` names the collective; `buffers` stay alive while MPI reads and
  // writes them; `result` is the tensor the caller waits on and `wide` the
  // float buffer MPI summed into for it, when the two differ (copied back
  // once the request completes).
  MpiPending(const char* what, MPI_Request request, std::vector<torch::Tensor> buffers,
             torch::Tensor result = {}, torch::Tensor wide = {})
      : what_(what),
        request_(request),
        buffers_(std::move(buffers)),
        result_(std::move(result)),
        wide_(std::move(wide)) {}
  ~MpiPending() override { Wait(); }
  void Wait() override {
    const CollectiveWait wait(what_);
    MPI_Wait(&request_, MPI_STATUS_IGNORE);
    Finish();
  }
  bool Done() override {
    int done = 0;
    MPI_Test(&request_, &done, MPI_STATUS_IGNORE);
    if (done) Finish();
    return done;
  }

 private:
  void Finish() {
    if (!result_.defined() || result_.is_same(wide_)) return;
    result_.copy_(wide_);
    result_ = torch::Tensor();
  }

  const char* what_;
  MPI_Request request_;
  std::vector<torch::Tensor> buffers_;
  torch::Tensor result_, wide_;
};

class MpiCollectives : public Collectives {
 public:
  MpiCollectives(MPI_Comm comm, int rank, int size)
      : Collectives(rank, size) {
    const CollectiveWait wait("the duplication of a group's communicator");
    MPI_Comm_dup(comm, &comm_);
    MPI_Query_thread(&thread_level_);
  }
  ~MpiCollectives() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&comm_);
  }

  std::unique_ptr<PendingCollective> AllReduceSumAsync(
      torch::Tensor tensor) override {
    CheckBuffer(tensor);
    CheckThread(thread_level_);
    torch::Tensor wide = Widened(tensor);
    MPI_Request request;
    MPI_Iallreduce(MPI_IN_PLACE, wide.data_ptr(), wide.numel(), MpiType(wide), MPI_SUM, comm_,
                   &request);
    return std::make_unique<MpiPending>("an MPI all-reduce", request,
                                        std::vector<torch::Tensor>{wide},
                                        std::move(tensor), wide);
  }

  std::unique_ptr<PendingCollective> StartReduceScatterSum(torch::Tensor full,
                                                           torch::Tensor chunk) override {
    CheckBuffer(full);
    CheckBuffer(chunk);
    CheckThread(thread_level_);
    torch::Tensor wide_full = Widened(full);
    torch::Tensor wide_chunk =
        IsHalf(chunk) ? torch::empty_like(chunk, chunk.options().dtype(torch::kFloat)) : chunk;
    MPI_Request request;
    MPI_Ireduce_scatter_block(wide_full.data_ptr(), wide_chunk.data_ptr(), wide_chunk.numel(),
                              MpiType(wide_full), MPI_SUM, comm_, &request);
    return std::make_unique<MpiPending>(
        "an MPI reduce-scatter", request,
        std::vector<torch::Tensor>{std::move(full), wide_full, wide_chunk}, std::move(chunk),
        wide_chunk);
  }

  std::unique_ptr<PendingCollective> StartAllGather(torch::Tensor full) override {
    CheckBuffer(full);
    CheckThread(thread_level_);
    MPI_Request request;
    MPI_Iallgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, full.data_ptr(), full.numel() / size(),
                   MpiType(full), comm_, &request);
    return std::make_unique<MpiPending>("an MPI all-gather", request,
                                        std::vector<torch::Tensor>{std::move(full)});
  }

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  int thread_level_ = MPI_THREAD_SINGLE;
};

}  // namespace

std::unique_ptr<Collectives> MakeMpiCollectives(MPI_Comm comm) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  return std::make_unique<MpiCollectives>(comm, rank, size);
}

}  // namespace spacebyte::parallel
