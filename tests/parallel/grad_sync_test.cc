#include "parallel/grad_sync.h"

#include <gtest/gtest.h>

#include <memory>
#include <thread>

#include "parallel/mpi_collectives.h"

namespace spacebyte::parallel {
namespace {

// Data parallelism over all ranks: rank r of n takes rows [r*b, (r+1)*b) of
// a global batch of n*b; every rank also computes the one-process answer.
class GradSyncTest : public testing::Test {
 protected:
  void SetUp() override {
    dp_ = MakeMpiCollectives(MPI_COMM_WORLD);
    torch::manual_seed(11);
    model_ = torch::nn::Sequential(torch::nn::Linear(6, 16), torch::nn::ReLU(),
                                   torch::nn::Linear(16, 16), torch::nn::ReLU(),
                                   torch::nn::Linear(16, 3));
    inputs_ = torch::randn({dp_->size() * kRowsPerRank, 6});
    targets_ = torch::randn({dp_->size() * kRowsPerRank, 3});
  }

  torch::Tensor Loss(int64_t first, int64_t rows) {
    torch::Tensor out = model_->forward(inputs_.narrow(0, first, rows));
    return torch::mse_loss(out, targets_.narrow(0, first, rows));
  }

  std::vector<torch::Tensor> Grads() {
    std::vector<torch::Tensor> grads;
    for (const torch::Tensor& p : model_->parameters()) grads.push_back(p.grad().clone());
    model_->zero_grad();
    return grads;
  }

  static constexpr int64_t kRowsPerRank = 4;
  std::unique_ptr<Collectives> dp_;
  torch::nn::Sequential model_{nullptr};
  torch::Tensor inputs_, targets_;
};

TEST_F(GradSyncTest, TwoMicroBatchesPerRankMatchWholeBatchInOneProcess) {
  Loss(0, inputs_.size(0)).backward();
  std::vector<torch::Tensor> expected = Grads();

  // 1 KB buckets: several buckets for this model.
  GradSync sync(model_->parameters(), *dp_, /*bucket_mb=*/1.0 / 1024);
  ASSERT_GT(sync.num_buckets(), 1);
  const int64_t half = kRowsPerRank / 2, first = dp_->rank() * kRowsPerRank;
  sync.Prepare(/*sync=*/false);
  (Loss(first, half) / 2).backward();
  EXPECT_EQ(sync.launched_in_backward(), 0);
  sync.Prepare(/*sync=*/true);
  (Loss(first + half, half) / 2).backward();
  // Every bucket was started from a hook, before backward returned.
  EXPECT_EQ(sync.launched_in_backward(), sync.num_buckets());
  sync.Finish();

  std::vector<torch::Tensor> got = Grads();
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_LT((got[i] - expected[i]).abs().max().item<double>(), 1e-5) << i;
  }
}

TEST_F(GradSyncTest, RepeatedStepsKeepMatching) {
  GradSync sync(model_->parameters(), *dp_, /*bucket_mb=*/25);
  EXPECT_EQ(sync.num_buckets(), 1);
  for (int step = 0; step < 2; ++step) {
    Loss(0, inputs_.size(0)).backward();
    std::vector<torch::Tensor> expected = Grads();
    sync.Prepare(/*sync=*/true);
    Loss(dp_->rank() * kRowsPerRank, kRowsPerRank).backward();
    sync.Finish();
    std::vector<torch::Tensor> got = Grads();
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_LT((got[i] - expected[i]).abs().max().item<double>(), 1e-5);
    }
  }
}

// GradSync's hooks call MPI. On CPU, LibTorch 1.13 runs them on the thread
// that called backward; were that to change, MPI_THREAD_MULTIPLE (which
// MpiEnv asks for) keeps it legal.
TEST_F(GradSyncTest, CpuBackwardRunsHooksOnTheCallingThread) {
  std::thread::id hook_thread;
  torch::Tensor w = model_->parameters()[0];
  const unsigned id = w.register_hook(
      [&](const torch::Tensor&) { hook_thread = std::this_thread::get_id(); });
  Loss(0, 2).backward();
  w.remove_hook(id);
  EXPECT_EQ(hook_thread, std::this_thread::get_id());
}

}  // namespace
}  // namespace spacebyte::parallel
