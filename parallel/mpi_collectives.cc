#include "parallel/mpi_collectives.h"

#include <utility>

namespace spacebyte::parallel {
namespace {

MPI_Datatype MpiType(const torch::Tensor& t) {
  switch (t.scalar_type()) {
    case torch::kFloat: return MPI_FLOAT;
    case torch::kDouble: return MPI_DOUBLE;
    case torch::kInt: return MPI_INT32_T;
    case torch::kLong: return MPI_INT64_T;
    default:
      TORCH_CHECK(false, "MPI collectives do not support ", t.scalar_type());
  }
}

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
  MpiPending(MPI_Request request, torch::Tensor tensor, torch::Tensor other = {})
      : request_(request), tensor_(std::move(tensor)), other_(std::move(other)) {}
  ~MpiPending() override {
    if (request_ != MPI_REQUEST_NULL) MPI_Wait(&request_, MPI_STATUS_IGNORE);
  }
  void Wait() override { MPI_Wait(&request_, MPI_STATUS_IGNORE); }
  bool Done() override {
    int done = 0;
    MPI_Test(&request_, &done, MPI_STATUS_IGNORE);
    return done;
  }

 private:
  MPI_Request request_;
  torch::Tensor tensor_, other_;  // kept alive while MPI reads and writes them
};

class MpiCollectives : public Collectives {
 public:
  MpiCollectives(MPI_Comm comm, int rank, int size)
      : Collectives(rank, size) {
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
    MPI_Request request;
    MPI_Iallreduce(MPI_IN_PLACE, tensor.data_ptr(), tensor.numel(),
                   MpiType(tensor), MPI_SUM, comm_, &request);
    return std::make_unique<MpiPending>(request, std::move(tensor));
  }

  std::unique_ptr<PendingCollective> StartReduceScatterSum(torch::Tensor full,
                                                           torch::Tensor chunk) override {
    CheckBuffer(full);
    CheckBuffer(chunk);
    CheckThread(thread_level_);
    MPI_Request request;
    MPI_Ireduce_scatter_block(full.data_ptr(), chunk.data_ptr(), chunk.numel(), MpiType(full),
                              MPI_SUM, comm_, &request);
    return std::make_unique<MpiPending>(request, std::move(full), std::move(chunk));
  }

  std::unique_ptr<PendingCollective> StartAllGather(torch::Tensor full) override {
    CheckBuffer(full);
    CheckThread(thread_level_);
    MPI_Request request;
    MPI_Iallgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, full.data_ptr(), full.numel() / size(),
                   MpiType(full), comm_, &request);
    return std::make_unique<MpiPending>(request, std::move(full));
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
