#ifndef SPACEBYTE_PARALLEL_COLLECTIVES_H_
#define SPACEBYTE_PARALLEL_COLLECTIVES_H_

// Collective operations over one group of ranks (a tp or dp group of the
// ProcessGrid), independent of where the tensors live: MpiCollectives works on
// CPU tensors, NcclCollectives (built with SPACEBYTE_CUDA) on CUDA tensors.
// Every rank of the group must issue the same collectives in the same order.

#include <torch/torch.h>

#include <cstdint>
#include <memory>

namespace spacebyte::parallel {

// A collective in flight. The tensor it works on must not be touched until
// Wait returns.
class PendingCollective {
 public:
  virtual ~PendingCollective() = default;
  // Blocks until the result is in the tensor.
  virtual void Wait() = 0;
  // Non-blocking completion check; also lets the library make progress,
  // which MPI without an asynchronous progress thread only does inside calls.
  virtual bool Done() = 0;
};

class Collectives {
 public:
  virtual ~Collectives() = default;

  int rank() const { return rank_; }
  int size() const { return size_; }

  // Sums `tensor` (contiguous) over the group, in place.
  void AllReduceSum(torch::Tensor& tensor) { AllReduceSumAsync(tensor)->Wait(); }
  // Starts the same sum and returns at once.
  virtual std::unique_ptr<PendingCollective> AllReduceSumAsync(
      torch::Tensor tensor) = 0;
  // Sums `full` (contiguous, size() equal chunks) over the group and writes
  // this rank's chunk of the sum into `chunk`; `full` is left undefined.
  std::unique_ptr<PendingCollective> ReduceScatterSumAsync(torch::Tensor full,
                                                           torch::Tensor chunk) {
    TORCH_CHECK(full.numel() == chunk.numel() * size() &&
                    full.scalar_type() == chunk.scalar_type(),
                "reduce-scatter of ", full.numel(), " elements into chunks of ", chunk.numel(),
                " over ", size(), " ranks");
    return StartReduceScatterSum(std::move(full), std::move(chunk));
  }
  // In place: every rank's chunk of `full` (size() equal chunks, rank r's at
  // r·chunk) ends up on every rank.
  std::unique_ptr<PendingCollective> AllGatherAsync(torch::Tensor full) {
    TORCH_CHECK(full.numel() % size() == 0, "all-gather of ", full.numel(), " elements over ",
                size(), " ranks");
    return StartAllGather(std::move(full));
  }

 protected:
  Collectives(int rank, int size) : rank_(rank), size_(size) {}
  // The backend's halves of the two above, sizes already checked.
  virtual std::unique_ptr<PendingCollective> StartReduceScatterSum(torch::Tensor full,
                                                                   torch::Tensor chunk) = 0;
  virtual std::unique_ptr<PendingCollective> StartAllGather(torch::Tensor full) = 0;

 private:
  int rank_, size_;
};

}  // namespace spacebyte::parallel

#endif  // SPACEBYTE_PARALLEL_COLLECTIVES_H_
