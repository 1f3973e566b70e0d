// train.precision: bf16 autocast tracks the float32 loss curve, on the CPU
// (LibTorch >= 2) and on CUDA; a checkpointed block recomputes under the
// forward's autocast; CUDA's fused AdamW steps like the CPU loop. One rank
// (the session needs MPI); the CUDA cases skip without a GPU (label gpu).

#include <torch/version.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/autocast.h"
#include "tests/parallel/mpi_gtest_main.h"
#include "train/training_session.h"

namespace spacebyte::trainer {
namespace {

// Largest |bf16 - fp32| loss difference over 20 steps allowed: bf16 keeps 8
// mantissa bits, so products differ by ~0.4% and the tiny model's loss (5.5
// falling to ~3) by a few hundredths; a wrong recompute or a missing cast
// shows as a diverging curve, far above this.
constexpr double kLossTolerance = 0.01;
constexpr int kSteps = 20;

std::string WriteConfig(bool checkpointing) {
  const std::string path = ::testing::TempDir() + "/precision_" +
                           std::to_string(checkpointing) + ".textproto";
  std::ofstream(path) << "model { d_model: 64 d_local: 32 context_size: 128 "
                         "global_context_size: 32 n_layers: 2 n_local_layers: 2 d_key: 16 "
                         "local_attention_window: 24 }\n"
                         "train { steps: 20 batch_size: 4 lr: 0.01 seed: 3 "
                      << "activation_checkpointing: " << (checkpointing ? "true" : "false")
                      << " }\n";
  return path;
}

// Text-like bytes: lowercase words between spaces, the same on every call.
torch::Tensor Targets() {
  torch::manual_seed(11);
  torch::Tensor letters = torch::randint('a', 'z' + 1, {4, 128}, torch::kLong);
  return letters.masked_fill_(torch::rand({4, 128}).lt(1.0 / 6), ' ');
}

std::unique_ptr<TrainingSession> Start(const std::string& device, const std::string& precision,
                                       bool checkpointing = false) {
  absl::StatusOr<std::unique_ptr<TrainingSession>> s = StartSession(
      WriteConfig(checkpointing), {"train.device=" + device, "train.precision=" + precision},
      test_support::TestMpiEnv());
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::move(*s) : nullptr;
}

std::vector<double> Losses(const std::string& device, const std::string& precision) {
  std::unique_ptr<TrainingSession> s = Start(device, precision);
  if (!s) return {};
  const torch::Tensor targets = Targets().to(s->device);
  std::vector<double> losses;
  for (int i = 0; i < kSteps; ++i) losses.push_back(s->step->Take(targets, 0.01).loss);
  return losses;
}

void ExpectTracks(const std::vector<double>& bf16, const std::vector<double>& fp32) {
  ASSERT_EQ(bf16.size(), fp32.size());
  double worst = 0;
  for (size_t i = 0; i < bf16.size(); ++i) worst = std::max(worst, std::abs(bf16[i] - fp32[i]));
  EXPECT_LT(worst, kLossTolerance);
  // Training happened, and bf16 is not secretly float32.
  EXPECT_LT(fp32.back(), fp32.front() - 0.5);
  EXPECT_GT(worst, 0.0);
  std::printf("max |bf16 - fp32| loss over %d steps: %.4f (first %.4f, last %.4f)\n", kSteps,
              worst, fp32.front(), fp32.back());
}

bool HaveCuda() { return torch::cuda::is_available(); }

TEST(PrecisionTest, CpuBf16TracksFp32) {
  if (TORCH_VERSION_MAJOR < 2) GTEST_SKIP() << "bf16 autocast needs LibTorch >= 2";
  ExpectTracks(Losses("cpu", "bf16"), Losses("cpu", "fp32"));
}

TEST(PrecisionTest, CudaBf16TracksCpuFp32) {
  if (!HaveCuda()) GTEST_SKIP() << "needs a CUDA device and CUDA LibTorch";
  ExpectTracks(Losses("cuda", "bf16"), Losses("cpu", "fp32"));
}

// Gradients of one bf16 step with checkpointed blocks equal those without:
// the recompute must run under the same autocast as the forward did.
void ExpectRecomputeMatches(const std::string& device) {
  std::vector<torch::Tensor> grads[2];
  for (bool checkpointing : {false, true}) {
    std::unique_ptr<TrainingSession> s = Start(device, "bf16", checkpointing);
    ASSERT_TRUE(s);
    const torch::Tensor targets = Targets().to(s->device);
    ModelOutput out;
    {
      Autocast autocast(s->device.type(), true);
      out = s->model->Forward(TokensFromTargets(targets));
    }
    ComputeLoss(out, targets).per_sample.mean().backward();
    for (const torch::Tensor& p : s->model->parameters()) {
      grads[checkpointing].push_back(p.grad().cpu().clone());
    }
  }
  ASSERT_EQ(grads[0].size(), grads[1].size());
  for (size_t i = 0; i < grads[0].size(); ++i) {
    const double scale = grads[0][i].abs().max().item<double>() + 1e-12;
    EXPECT_LT((grads[0][i] - grads[1][i]).abs().max().item<double>() / scale, 1e-3) << i;
  }
}

TEST(PrecisionTest, CheckpointedBlocksRecomputeUnderAutocastOnCpu) {
  if (TORCH_VERSION_MAJOR < 2) GTEST_SKIP() << "bf16 autocast needs LibTorch >= 2";
  ExpectRecomputeMatches("cpu");
}

TEST(PrecisionTest, CheckpointedBlocksRecomputeUnderAutocastOnCuda) {
  if (!HaveCuda()) GTEST_SKIP() << "needs a CUDA device and CUDA LibTorch";
  ExpectRecomputeMatches("cuda");
}

TEST(PrecisionTest, CudaFusedAdamWStepsLikeTheCpuLoop) {
  if (!HaveCuda()) GTEST_SKIP() << "needs a CUDA device and CUDA LibTorch";
  std::unique_ptr<TrainingSession> s[2] = {Start("cpu", "fp32"), Start("cuda", "fp32")};
  ASSERT_TRUE(s[0] && s[1]);
  for (int step = 0; step < 3; ++step) {
    for (auto& session : s) {
      torch::NoGradGuard no_grad;
      torch::manual_seed(step);
      for (torch::Tensor& p : session->model->parameters()) {
        p.mutable_grad() = torch::randn(p.sizes()).to(p.device());
      }
      session->optimizer->SetLearningRate(0.01);
      session->optimizer->Step();
    }
  }
  const auto cpu = s[0]->model->parameters(), cuda = s[1]->model->parameters();
  for (size_t i = 0; i < cpu.size(); ++i) {
    EXPECT_TRUE(torch::allclose(cpu[i], cuda[i].cpu(), 1e-5, 1e-6)) << i;
  }
}

}  // namespace
}  // namespace spacebyte::trainer
