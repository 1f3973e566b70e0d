#include "parallel/nccl_collectives.h"

#include <gtest/gtest.h>

#include <cuda_runtime.h>

#include "parallel/mpi_env.h"

namespace spacebyte::parallel {
namespace {

// One CUDA device per rank; skipped where there are too few devices or the
// LibTorch build cannot make CUDA tensors.
class NcclCollectivesTest : public testing::Test {
 protected:
  void SetUp() override {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess) devices = 0;
    int enough = devices >= size_ && torch::cuda::is_available();
    MPI_Allreduce(MPI_IN_PLACE, &enough, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (!enough) GTEST_SKIP() << "needs one CUDA device per rank and CUDA LibTorch";
    auto nccl = MakeNcclCollectives(MPI_COMM_WORLD, rank_);
    ASSERT_TRUE(nccl.ok()) << nccl.status();
    nccl_ = std::move(*nccl);
    options_ = torch::dtype(torch::kFloat).device(torch::kCUDA, rank_);
  }

  int rank_ = 0, size_ = 1;
  std::unique_ptr<Collectives> nccl_;
  torch::TensorOptions options_;
};

TEST_F(NcclCollectivesTest, AllReduceSyncAndAsync) {
  torch::Tensor x = torch::full({3}, rank_ + 1.0, options_);
  nccl_->AllReduceSum(x);
  EXPECT_EQ(x.cpu()[0].item<float>(), size_ * (size_ + 1) / 2);

  torch::Tensor y = torch::full({2}, float(rank_), options_);
  nccl_->AllReduceSumAsync(y)->Wait();
  EXPECT_EQ(y.cpu()[1].item<float>(), size_ * (size_ - 1) / 2);
}

// GradSync polls collectives in flight from backward's hooks. A poll that
// finds one unfinished must leave no CUDA error behind for the next kernel
// to trip over.
TEST_F(NcclCollectivesTest, PollingUnfinishedCollectiveLeavesNoError) {
  // Work queued on the compute stream, which the collective waits for.
  torch::Tensor a = torch::randn({4096, 4096}, options_) / 64;
  for (int i = 0; i < 20; ++i) a = a.mm(a);
  torch::Tensor x = torch::full({1 << 20}, rank_ + 1.0, options_);
  std::unique_ptr<PendingCollective> pending = nccl_->AllReduceSumAsync(x);
  EXPECT_FALSE(pending->Done());
  EXPECT_EQ(cudaPeekAtLastError(), cudaSuccess);
  const torch::Tensor after = torch::ones({8}, options_) * 2;  // a kernel launch
  pending->Wait();
  EXPECT_EQ(x.cpu()[0].item<float>(), size_ * (size_ + 1) / 2);
  EXPECT_EQ(after.sum().item<float>(), 16);
  while (!pending->Done()) {}
}

// ZeRO-1's pair: rank r's chunk of the sum, then every rank's chunk back in
// place (on one GPU the group is one rank and both are copies).
TEST_F(NcclCollectivesTest, ReduceScatterAndAllGatherInPlace) {
  const int64_t chunk = 3;
  torch::Tensor full = torch::arange(chunk * size_, options_) + rank_;
  torch::Tensor mine = torch::empty({chunk}, options_);
  nccl_->ReduceScatterSumAsync(full, mine)->Wait();
  // Element i of the sum is size * i + (0 + 1 + ... + size - 1).
  const torch::Tensor want =
      torch::arange(rank_ * chunk, (rank_ + 1) * chunk, options_) * size_ + size_ * (size_ - 1) / 2;
  EXPECT_TRUE(torch::equal(mine.cpu(), want.cpu()));

  torch::Tensor gathered = torch::full({chunk * size_}, -1.0, options_);
  gathered.narrow(0, rank_ * chunk, chunk).fill_(rank_ + 1.0);
  nccl_->AllGatherAsync(gathered)->Wait();
  const torch::Tensor owners =
      torch::arange(size_, options_).repeat_interleave(chunk) + 1;
  EXPECT_TRUE(torch::equal(gathered.cpu(), owners.cpu()));
}

}  // namespace
}  // namespace spacebyte::parallel
