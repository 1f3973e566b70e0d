// The resolved run: budgets in bytes and FLOPs become step counts, batch
// sizes are checked against the world, and errors name the field.

#include <gtest/gtest.h>
#include <torch/version.h>

#include "google/protobuf/text_format.h"
#include "train/run_spec.h"

namespace spacebyte::trainer {
namespace {

// Tiny SpaceByte: D 64, d 32, T 64, TG 16, W = d = 32, 2 global and 2 local
// blocks. Multiply-adds per sample (spec's cost accounting):
//   global 2 * (16 (4*64^2 + 2*64*16) + 16*8*64^2) = 1638400
//   local  2 * (64 (4*32^2 + 2*32*32) + 64*8*32^2) = 1835008
//   logits 64*32*256                                =  524288
// = 3997696; training FLOPs per step of 4 samples = 6 * 4 * 3997696
// = 95944704.

proto::RunConfig Config(const std::string& train) {
  proto::RunConfig c;
  const std::string text =
      "model { d_model: 64 d_local: 32 context_size: 64 global_context_size: 16 "
      "n_layers: 2 n_local_layers: 2 d_key: 16 } train { batch_size: 4 " + train + " }";
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &c)) << text;
  return c;
}

int64_t Steps(const std::string& train) {
  absl::StatusOr<RunSpec> spec = ResolveRunConfig(Config(train), 1);
  EXPECT_TRUE(spec.ok()) << spec.status();
  return spec.ok() ? spec->train.steps : -1;
}

std::string Error(const std::string& train, int world = 1) {
  absl::StatusOr<RunSpec> spec = ResolveRunConfig(Config(train), world);
  return spec.ok() ? "no error" : std::string(spec.status().message());
}

TEST(RunSpecTest, ByteBudgetRoundsUpToWholeSteps) {
  EXPECT_EQ(Steps("budget_bytes: 2560"), 10);  // 256 bytes per step
  EXPECT_EQ(Steps("budget_bytes: 2561"), 11);
}

TEST(RunSpecTest, FlopBudgetUsesTheSpecsCostAccounting) {
  EXPECT_EQ(Steps("budget_flops: 1e9"), 11);  // 1e9 / 95944704 = 10.42
  EXPECT_EQ(Steps("budget_flops: 671612928"), 7);  // exactly 7 steps
  EXPECT_EQ(Steps("budget_flops: 671612929"), 8);
}

TEST(RunSpecTest, DefaultsFollowTheSpec) {
  absl::StatusOr<RunSpec> spec = ResolveRunConfig(Config("steps: 5"), 2);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_DOUBLE_EQ(spec->train.lr, 0.01);  // 0.005 * sqrt(4)
  EXPECT_EQ(spec->parallel.dp, 2);
  EXPECT_EQ(spec->train.micro_batch_size, 2);
  EXPECT_EQ(spec->train.accumulation, 1);
  absl::StatusOr<RunSpec> micro = ResolveRunConfig(Config("steps: 5 micro_batch_size: 1"), 2);
  ASSERT_TRUE(micro.ok()) << micro.status();
  EXPECT_EQ(micro->train.accumulation, 2);
}

TEST(RunSpecTest, ImpossibleSizesNameTheField) {
  EXPECT_EQ(Error("steps: 5 micro_batch_size: 3"),
            "run config: train.micro_batch_size = 3 must divide the per-rank batch 4 "
            "(train.batch_size / dp)");
  EXPECT_EQ(Error("steps: 5", 3).find("run config: train.batch_size = 4 is not divisible by "
                                      "the data-parallel size 3"),
            0u);
  EXPECT_NE(Error("steps: 5 budget_bytes: 100").find("exactly one of"), std::string::npos);
  EXPECT_NE(Error("").find("exactly one of"), std::string::npos);
}

// parallel.backend's documented default "auto" resolves by the device, and
// train.precision defaults to bf16 on CUDA only.
TEST(RunSpecTest, BackendAndPrecisionFollowTheDevice) {
  absl::StatusOr<RunSpec> cpu = ResolveRunConfig(Config("steps: 5"), 1);
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  EXPECT_EQ(cpu->parallel.backend, "mpi");
  EXPECT_FALSE(cpu->train.bf16);
  absl::StatusOr<RunSpec> cuda = ResolveRunConfig(Config("steps: 5 device: \"cuda\""), 1);
  if (TORCH_VERSION_MAJOR >= 2) {
    ASSERT_TRUE(cuda.ok()) << cuda.status();
    EXPECT_EQ(cuda->parallel.backend, "nccl");
    EXPECT_TRUE(cuda->train.bf16);
  } else {
    EXPECT_NE(std::string(cuda.status().message()).find("bf16 needs LibTorch >= 2"),
              std::string::npos);
  }
  absl::StatusOr<RunSpec> fp32 =
      ResolveRunConfig(Config("steps: 5 device: \"cuda\" precision: \"fp32\""), 1);
  ASSERT_TRUE(fp32.ok()) << fp32.status();
  EXPECT_EQ(fp32->parallel.backend, "nccl");
  EXPECT_FALSE(fp32->train.bf16);

  proto::RunConfig mpi_on_cuda = Config("steps: 5 device: \"cuda\" precision: \"fp32\"");
  mpi_on_cuda.mutable_parallel()->set_backend("mpi");
  EXPECT_EQ(ResolveRunConfig(mpi_on_cuda, 1).status().message(),
            "run config: parallel.backend = mpi cannot move cuda tensors; use nccl or auto");
  EXPECT_EQ(Error("steps: 5 precision: \"fp16\""),
            "run config: train.precision = 'fp16' is not one of bf16 | fp32");
}

}  // namespace
}  // namespace spacebyte::trainer
