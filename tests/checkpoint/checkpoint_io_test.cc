// Checkpoint directories: slices reassemble, damage is named, unfinished
// saves are skipped.

#include <filesystem>
#include <fstream>
#include <functional>
#include <set>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "checkpoint/checkpoint_io.h"

namespace spacebyte::trainer {
namespace fs = std::filesystem;
namespace {

// Saves `full` split into two row slices across two rank files.
std::string SaveSplit(const std::string& root, int64_t step, const torch::Tensor& full) {
  const std::string dir = root + "/" + StepDirName(step);
  fs::create_directories(dir + ".tmp");
  ManifestBuilder m(step, proto::RunConfig(), /*dp=*/2, /*tp=*/1);
  for (int rank = 0; rank < 2; ++rank) {
    const int64_t rows = full.size(0) / 2;
    std::vector<proto::TensorSlice> entries;
    absl::StatusOr<proto::CheckpointFile> f = WriteTensorFile(
        dir + ".tmp/rank_0000" + std::to_string(rank) + ".bin", rank,
        {{"model/w", full.narrow(0, rank * rows, rows), {full.size(0), full.size(1)},
          {rank * rows, 0}}},
        &entries);
    EXPECT_TRUE(f.ok()) << f.status();
    m.AddFile(*f, entries);  // sets each slice's file index
  }
  EXPECT_TRUE(CommitCheckpoint(dir + ".tmp", dir, m.manifest()).ok());
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
  std::set<int64_t> verified = {3};
  ASSERT_TRUE(PruneCheckpoints(root, 2, 3, &verified).ok());
  EXPECT_EQ(verified, (std::set<int64_t>{2, 3})) << "step 2 was verified once";
  EXPECT_FALSE(fs::exists(root + "/step_00000001"));
  EXPECT_TRUE(fs::exists(root + "/step_00000002"));
  EXPECT_TRUE(fs::exists(root + "/step_00000003"));
}

// A newer checkpoint damaged without a change of size (a flipped byte)
// is what resume skips; retention must not count it in place of a
// complete older one.
TEST(CheckpointIoTest, PruneCountsOnlyCheckpointsThatPassTheirChecksum) {
  const std::string root = ::testing::TempDir() + "/ckpt_k";
  fs::remove_all(root);
  for (int step : {1, 2, 3}) SaveSplit(root, step, torch::ones({2, 2}));
  {
    std::fstream f(root + "/step_00000002/rank_00000.bin",
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(3);
    f.put('\x7f');
  }
  std::set<int64_t> verified = {3};
  ASSERT_TRUE(PruneCheckpoints(root, 2, 3, &verified).ok());
  EXPECT_TRUE(fs::exists(root + "/step_00000001")) << "the second complete checkpoint";
  EXPECT_TRUE(fs::exists(root + "/step_00000003"));
  EXPECT_EQ(verified, (std::set<int64_t>{1, 3}));
}

// A run that resumed from step 1 (step 3 being damaged) and just saved step
// 2 keeps step 2, its newest complete checkpoint, even with keep = 1.
TEST(CheckpointIoTest, PruneNeverRemovesTheCheckpointJustCommitted) {
  const std::string root = ::testing::TempDir() + "/ckpt_e";
  fs::remove_all(root);
  for (int step : {1, 3, 2}) SaveSplit(root, step, torch::ones({2, 2}));
  std::set<int64_t> verified = {2};
  ASSERT_TRUE(PruneCheckpoints(root, 1, 2, &verified).ok());
  EXPECT_FALSE(fs::exists(root + "/step_00000001"));
  EXPECT_TRUE(fs::exists(root + "/step_00000002"));
  EXPECT_TRUE(fs::exists(root + "/step_00000003"));
}

// Every single flipped byte of a manifest is caught: by its checksum, or
// by the parser when the flip breaks the framing.
TEST(CheckpointIoTest, ManifestChecksumCatchesEveryFlippedByte) {
  const std::string root = ::testing::TempDir() + "/ckpt_f";
  fs::remove_all(root);
  const std::string dir = SaveSplit(root, 1, torch::randn({4, 2}));
  const std::string path = dir + "/" + kManifestName;
  std::ifstream in(path, std::ios::binary);
  const std::string good((std::istreambuf_iterator<char>(in)), {});
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] ^= 0x10;
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bad;
    const absl::Status s = OpenStepDir(dir, /*verify=*/false).status();
    EXPECT_TRUE(absl::IsDataLoss(s)) << "byte " << i << ": " << s;
    EXPECT_NE(s.message().find(path + ": corrupt manifest"), std::string::npos) << s;
  }
}

// Checkpoints written before manifests carried a checksum still load.
TEST(CheckpointIoTest, VersionOneManifestsStillLoad) {
  const std::string root = ::testing::TempDir() + "/ckpt_g";
  fs::remove_all(root);
  const torch::Tensor w = torch::randn({4, 2});
  const std::string dir = SaveSplit(root, 1, w);
  absl::StatusOr<CheckpointReader> r = OpenStepDir(dir);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->manifest().format_version(), kCheckpointFormatVersion);
  proto::CheckpointManifest old = r->manifest();
  old.set_format_version(1);
  old.clear_manifest_crc32c();
  std::ofstream(dir + "/" + kManifestName, std::ios::binary | std::ios::trunc)
      << old.SerializeAsString();
  r = OpenStepDir(dir);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(torch::equal(*r->Read("model/w"), w));
}

// A manifest with a valid checksum but impossible contents, as a buggy tool
// or a hand edit would leave: each is one DataLoss message naming the
// manifest and the problem, never a crash or wrong numbers.
struct HostileEdit {
  const char* name;
  std::function<void(proto::CheckpointManifest&)> edit;
  const char* message;  // expected in the error
  bool fails_on_read;   // the manifest is consistent; only reading finds it
};

class HostileManifestTest : public ::testing::TestWithParam<HostileEdit> {};

TEST_P(HostileManifestTest, IsRefusedWithOneLine) {
  const std::string root = ::testing::TempDir() + "/ckpt_h_" + GetParam().name;
  fs::remove_all(root);
  const std::string dir = SaveSplit(root, 1, torch::randn({4, 2}));
  absl::StatusOr<CheckpointReader> r = OpenStepDir(dir);
  ASSERT_TRUE(r.ok()) << r.status();
  proto::CheckpointManifest m = r->manifest();
  GetParam().edit(m);
  const std::string edited = root + "/" + StepDirName(2);
  fs::copy(dir, edited + ".tmp");
  ASSERT_TRUE(CommitCheckpoint(edited + ".tmp", edited, m).ok());

  absl::StatusOr<CheckpointReader> opened = OpenStepDir(edited);
  absl::Status s = opened.status();
  if (GetParam().fails_on_read) {
    ASSERT_TRUE(opened.ok()) << s;
    s = opened->Read("model/w").status();
  } else {
    EXPECT_NE(s.message().find(edited + "/" + kManifestName), std::string::npos) << s;
  }
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  EXPECT_NE(s.message().find(GetParam().message), std::string::npos) << s;
  EXPECT_EQ(s.message().find('\n'), std::string::npos) << s;
}

INSTANTIATE_TEST_SUITE_P(
    Edits, HostileManifestTest,
    ::testing::Values(
        HostileEdit{"FileIndexPastTheEnd",
                    [](auto& m) { m.mutable_tensors(1)->set_file(7); }, "file index 7 of 2"},
        HostileEdit{"NegativeFileIndex",
                    [](auto& m) { m.mutable_tensors(0)->set_file(-1); }, "file index -1"},
        HostileEdit{"OffsetPastTheFile",
                    [](auto& m) { m.mutable_tensors(0)->set_offset(4); }, "run past the end"},
        HostileEdit{"NegativeOffset",
                    [](auto& m) { m.mutable_tensors(0)->set_offset(-8); }, "run past the end"},
        HostileEdit{"SliceOutsideTheTensor",
                    [](auto& m) { m.mutable_tensors(1)->set_slice_start(0, 3); },
                    "slice outside the tensor"},
        HostileEdit{"ShapeThatOverflows",
                    [](auto& m) {
                      for (auto& t : *m.mutable_tensors()) {
                        t.set_global_shape(0, int64_t{1} << 40);
                        t.set_global_shape(1, int64_t{1} << 40);
                      }
                    },
                    "impossible shape"},
        HostileEdit{"UnknownDtype",
                    [](auto& m) { m.mutable_tensors(0)->set_dtype("complex64"); },
                    "unknown dtype"},
        HostileEdit{"FileNameOutsideTheDirectory",
                    [](auto& m) { m.mutable_files(0)->set_name("../../etc/passwd"); },
                    "is not a distinct file"},
        HostileEdit{"RankDisagrees",
                    [](auto& m) { m.mutable_tensors(0)->add_global_shape(1); },
                    "disagree in rank"},
        HostileEdit{"SlicesDisagreeOnShape",
                    [](auto& m) { m.mutable_tensors(1)->set_global_shape(0, 6); },
                    "disagree on shape"},
        HostileEdit{"TwoSlicesFromTheSameBytes",
                    [](auto& m) {
                      m.mutable_tensors(1)->set_file(0);
                      m.mutable_tensors(1)->set_offset(0);
                    },
                    "overlap or leave bytes unread"},
        HostileEdit{"OverlappingSlices",
                    [](auto& m) { m.mutable_tensors(1)->set_slice_start(0, 0); }, "overlap",
                    true},
        HostileEdit{"MissingSlice", [](auto& m) { m.mutable_tensors()->RemoveLast(); },
                    "overlap or leave bytes unread"},
        HostileEdit{"MissingSliceAndItsFile",
                    [](auto& m) {
                      m.mutable_tensors()->RemoveLast();
                      m.mutable_files()->RemoveLast();
                    },
                    "do not cover it", true},
        // A shape far past what the slices hold: refused before the whole
        // tensor (here 2^40 × 2 floats) is allocated.
        HostileEdit{"ShapeFarLargerThanItsSlices",
                    [](auto& m) {
                      for (auto& t : *m.mutable_tensors()) t.set_global_shape(0, int64_t{1} << 40);
                    },
                    "do not cover it", true}),
    [](const ::testing::TestParamInfo<HostileEdit>& info) { return info.param.name; });

// Retention counts checkpoints that can be loaded, not directories with a
// manifest, and clears saves that never committed.
TEST(CheckpointIoTest, PruneKeepsValidCheckpointsAndClearsUnfinishedSaves) {
  const std::string root = ::testing::TempDir() + "/ckpt_i";
  fs::remove_all(root);
  for (int step : {1, 2, 3}) SaveSplit(root, step, torch::ones({2, 2}));
  fs::resize_file(root + "/step_00000002/rank_00000.bin", 3);
  fs::create_directories(root + "/step_00000001.tmp");
  std::set<int64_t> verified = {3};
  ASSERT_TRUE(PruneCheckpoints(root, 2, 3, &verified).ok());
  EXPECT_TRUE(fs::exists(root + "/step_00000001")) << "one of the two valid ones";
  EXPECT_TRUE(fs::exists(root + "/step_00000003"));
  EXPECT_FALSE(fs::exists(root + "/step_00000001.tmp"));
}

// Step numbers past 8 digits name longer directories, still found in order.
TEST(CheckpointIoTest, StepsPastEightDigitsAreFoundAndPruned) {
  const std::string root = ::testing::TempDir() + "/ckpt_j";
  fs::remove_all(root);
  for (int64_t step : {99999999, 123456789}) SaveSplit(root, step, torch::ones({2, 2}));
  std::vector<std::string> skipped;
  absl::StatusOr<CheckpointReader> latest = FindLatestCheckpoint(root, &skipped);
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(latest->manifest().step(), 123456789);
  std::set<int64_t> verified = {123456789};
  ASSERT_TRUE(PruneCheckpoints(root, 1, 123456789, &verified).ok());
  EXPECT_FALSE(fs::exists(root + "/step_99999999"));
  EXPECT_EQ(StepOfDirName("step_0000012"), std::nullopt);
  EXPECT_EQ(StepOfDirName("step_000000012"), std::nullopt) << "one name per step";
}

}  // namespace
}  // namespace spacebyte::trainer
