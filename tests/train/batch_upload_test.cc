// A loader batch arrives as the same int64 targets on CPU and, through pinned
// memory, on a GPU.

#include "train/batch_upload.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace spacebyte::trainer {
namespace {

data::Batch ExampleBatch() {
  data::Batch batch;
  batch.rows = 2;
  batch.context = 3;
  batch.targets = {0, 32, 255, 7, 128, 97};
  return batch;
}

torch::Tensor Expected() { return torch::tensor({0, 32, 255, 7, 128, 97}).view({2, 3}); }

TEST(BatchUploadTest, WidensBytesOnCpu) {
  data::Batch batch = ExampleBatch();
  const torch::Tensor t = UploadBatch(batch, torch::kCPU);
  EXPECT_EQ(t.scalar_type(), torch::kLong);
  EXPECT_TRUE(torch::equal(t, Expected()));
  batch.targets[0] = 9;  // the tensor owns its bytes: the loader may reuse its buffer
  EXPECT_EQ(t[0][0].item<int64_t>(), 0);
}

TEST(BatchUploadTest, UploadsThroughPinnedMemoryOnCuda) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "needs a CUDA device and CUDA LibTorch";
  data::Batch batch = ExampleBatch();
  const torch::Tensor t = UploadBatch(batch, torch::Device(torch::kCUDA, 0));
  batch.targets.assign(batch.targets.size(), 1);  // the staging copy was taken already
  EXPECT_TRUE(t.is_cuda());
  EXPECT_EQ(t.scalar_type(), torch::kLong);
  EXPECT_TRUE(torch::equal(t.cpu(), Expected()));
}

}  // namespace
}  // namespace spacebyte::trainer
