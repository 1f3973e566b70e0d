#include "parallel/grad_sync.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
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

int64_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

// With one dp rank nothing is sent, so no bucket buffer (a copy of every
// gradient) is allocated, and gradients are left as backward made them.
TEST_F(GradSyncTest, OneRankHoldsNoBuckets) {
  std::unique_ptr<Collectives> alone = MakeMpiCollectives(MPI_COMM_SELF);
  const torch::Tensor weight = torch::ones({32 << 20}, torch::requires_grad());  // 128 MiB
  const int64_t before = ResidentBytes();
  GradSync sync({weight}, *alone, /*bucket_mb=*/512);
  EXPECT_LT(ResidentBytes() - before, 32 << 20);
  sync.Prepare(/*sync=*/true);
  (weight * 3).sum().backward();
  sync.Finish();
  EXPECT_TRUE(torch::all(weight.grad().eq(3)).item<bool>());
}

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

// ZeRO-1: with buckets sharded over the dp ranks, each rank ends with the
// dp-mean of exactly the slice it owns (and .grad is left alone), and the
// all-gather gives every rank every owner's parameter values.
TEST_F(GradSyncTest, ShardedReduceScattersOwnedSlicesAndGathersParameters) {
  Loss(0, inputs_.size(0)).backward();
  std::vector<torch::Tensor> expected = Grads();
  const std::vector<torch::Tensor> params = model_->parameters();
  // Sizes that do not divide by the ranks: 6*16+16+16*16+16+16*3+3 elements.
  GradSync sync(params, LayoutOf(params, /*bucket_mb=*/1.0 / 1024, dp_->size()), *dp_);
  ASSERT_TRUE(sync.sharded());
  ASSERT_GT(sync.num_buckets(), 1);
  sync.Prepare(/*sync=*/true);
  Loss(dp_->rank() * kRowsPerRank, kRowsPerRank).backward();
  EXPECT_EQ(sync.launched_in_backward(), sync.num_buckets());
  sync.Finish();
  const FlatBuckets& layout = sync.layout();
  for (int b = 0; b < layout.num_buckets(); ++b) {
    const auto [begin, end] = layout.Owned(b, dp_->rank());
    for (const FlatBuckets::Segment& seg : layout.Segments(b, begin, end)) {
      const int param = layout.slots()[seg.slot].param;
      const torch::Tensor got = sync.grad_shard(b).narrow(0, seg.bucket_offset - begin, seg.length);
      const torch::Tensor want = expected[param].reshape(-1).narrow(0, seg.param_offset, seg.length);
      EXPECT_LT((got - want).abs().max().item<double>(), 1e-5) << "bucket " << b;
    }
  }
  // Each rank writes its rank + 1 into the elements it owns; after the
  // gather every element holds its owner's mark.
  torch::NoGradGuard no_grad;
  torch::Tensor want_marks[16];
  ASSERT_LE(params.size(), 16u);
  for (size_t i = 0; i < params.size(); ++i) want_marks[i] = torch::zeros({params[i].numel()});
  for (int b = 0; b < layout.num_buckets(); ++b) {
    for (int r = 0; r < dp_->size(); ++r) {
      const auto [begin, end] = layout.Owned(b, r);
      for (const FlatBuckets::Segment& seg : layout.Segments(b, begin, end)) {
        const int param = layout.slots()[seg.slot].param;
        want_marks[param].narrow(0, seg.param_offset, seg.length).fill_(r + 1);
        if (r == dp_->rank()) {
          params[param].view(-1).narrow(0, seg.param_offset, seg.length).fill_(r + 1);
        }
      }
    }
  }
  for (int b = 0; b < layout.num_buckets(); ++b) sync.StartGather(b);
  sync.FinishGather();
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_TRUE(torch::equal(params[i].reshape(-1), want_marks[i])) << "parameter " << i;
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
