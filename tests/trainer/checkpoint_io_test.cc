// Checkpoint directories: slices reassemble, damage is named, unfinished
// saves are skipped.

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "trainer/checkpoint_io.h"

namespace spacebyte::trainer {
namespace fs = std::filesystem;
namespace {

// Saves `full` split into two row slices across two rank files.
std::string SaveSplit(const std::string& root, int64_t step, const torch::Tensor& full) {
  const std::string dir = root + "/" + StepDirName(step);
  fs::create_directories(dir + ".tmp");
  proto::CheckpointManifest m;
  m.set_step(step);
  for (int rank = 0; rank < 2; ++rank) {
    const int64_t rows = full.size(0) / 2;
    std::vector<proto::TensorSlice> entries;
    absl::StatusOr<proto::CheckpointFile> f = WriteTensorFile(
        dir + ".tmp/rank_0000" + std::to_string(rank) + ".bin", rank,
        {{"model/w", full.narrow(0, rank * rows, rows), {full.size(0), full.size(1)},
          {rank * rows, 0}}},
        &entries);
    EXPECT_TRUE(f.ok()) << f.status();
    *m.add_files() = *f;
    for (auto& e : entries) {
      e.set_file(rank);
      *m.add_tensors() = e;
    }
  }
  EXPECT_TRUE(CommitCheckpoint(dir + ".tmp", dir, m).ok());
  return dir;
}

TEST(CheckpointIoTest, SlicesReassembleAndLatestPoints) {
  const std::string root = ::testing::TempDir() + "/ckpt_a";
  fs::remove_all(root);
  const torch::Tensor w = torch::randn({6, 3});
  SaveSplit(root, 5, w);
  absl::StatusOr<CheckpointReader> r = CheckpointReader::Open(root);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->manifest().step(), 5);
  EXPECT_TRUE(torch::equal(*r->Read("model/w"), w));
  std::ifstream latest(root + "/latest");
  std::string name;
  latest >> name;
  EXPECT_EQ(name, "step_00000005");
}

TEST(CheckpointIoTest, FlippedByteAndTruncationNameTheFile) {
  const std::string root = ::testing::TempDir() + "/ckpt_b";
  fs::remove_all(root);
  const std::string dir = SaveSplit(root, 1, torch::randn({4, 4}));
  const std::string file = dir + "/rank_00001.bin";
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(3);
    f.put('\x7f');
  }
  absl::Status s = OpenStepDir(dir).status();
  EXPECT_NE(s.message().find(file), std::string::npos) << s;
  EXPECT_NE(s.message().find("CRC32C"), std::string::npos) << s;
  fs::resize_file(file, 5);
  s = OpenStepDir(dir).status();
  EXPECT_NE(s.message().find("truncated"), std::string::npos) << s;
}

TEST(CheckpointIoTest, NewestCompleteWinsDamagedAndTmpAreReported) {
  const std::string root = ::testing::TempDir() + "/ckpt_c";
  fs::remove_all(root);
  SaveSplit(root, 1, torch::randn({2, 2}));
  const std::string second = SaveSplit(root, 2, torch::randn({2, 2}));
  fs::resize_file(second + "/rank_00000.bin", 1);
  fs::create_directories(root + "/step_00000003.tmp");
  std::vector<std::string> skipped;
  absl::StatusOr<CheckpointReader> latest = FindLatestCheckpoint(root, &skipped);
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(fs::path(latest->dir()).filename(), "step_00000001");
  ASSERT_EQ(skipped.size(), 2u);
}

TEST(CheckpointIoTest, PruneKeepsNewest) {
  const std::string root = ::testing::TempDir() + "/ckpt_d";
  fs::remove_all(root);
  for (int step : {1, 2, 3}) SaveSplit(root, step, torch::ones({2, 2}));
  ASSERT_TRUE(PruneCheckpoints(root, 2, 3).ok());
  EXPECT_FALSE(fs::exists(root + "/step_00000001"));
  EXPECT_TRUE(fs::exists(root + "/step_00000002"));
  EXPECT_TRUE(fs::exists(root + "/step_00000003"));
}

// A run that resumed from step 1 (step 3 being damaged) and just saved step
// 2 keeps step 2, its newest complete checkpoint, even with keep = 1.
TEST(CheckpointIoTest, PruneNeverRemovesTheCheckpointJustCommitted) {
  const std::string root = ::testing::TempDir() + "/ckpt_e";
  fs::remove_all(root);
  for (int step : {1, 3, 2}) SaveSplit(root, step, torch::ones({2, 2}));
  ASSERT_TRUE(PruneCheckpoints(root, 1, 2).ok());
  EXPECT_FALSE(fs::exists(root + "/step_00000001"));
  EXPECT_TRUE(fs::exists(root + "/step_00000002"));
  EXPECT_TRUE(fs::exists(root + "/step_00000003"));
}

}  // namespace
}  // namespace spacebyte::trainer
