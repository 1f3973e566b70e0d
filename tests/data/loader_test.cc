#include "data/loader.h"

#include <filesystem>
#include <fstream>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "data/eval_stream.h"
#include "data/manifest.h"
#include "data/mixing.h"
#include "data/prefetch_loader.h"
#include "data/shard_index.h"
#include "gtest/gtest.h"
#include "tests/data/test_corpus.h"

namespace spacebyte::data {
namespace {

const std::map<std::string, int64_t> kLanguages = {
    {"de", 20000}, {"en", 60000}, {"fr", 30000}, {"ja", 10000}};

class LoaderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dataset_ = new std::string(testing::MakeDataset(testing::FreshDir("loader"), kLanguages));
  }
  static LoaderOptions Options(int dp_size = 1, int dp_rank = 0) {
    LoaderOptions o;
    o.data_dir = *dataset_;
    o.context = 97;
    o.global_batch = 8;
    o.dp_size = dp_size;
    o.dp_rank = dp_rank;
    o.seed = 7;
    return o;
  }
  // Rows (as strings) of `steps` batches.
  static std::vector<std::string> Rows(const LoaderOptions& o, int steps) {
    auto loader = Loader::Open(o);
    EXPECT_TRUE(loader.ok()) << loader.status();
    std::vector<std::string> rows;
    for (int s = 0; s < steps; ++s) {
      auto batch = (*loader)->Next();
      EXPECT_TRUE(batch.ok()) << batch.status();
      for (int64_t i = 0; i < batch->rows; ++i) {
        rows.emplace_back(batch->targets.begin() + i * o.context,
                          batch->targets.begin() + (i + 1) * o.context);
      }
    }
    return rows;
  }
  static std::string* dataset_;
};
std::string* LoaderTest::dataset_ = nullptr;

// Sizes whose batch cannot fit in memory, or whose rows · T wraps around
// (`data inspect --context 2^62` overflowed the heap), are refused by Open.
TEST_F(LoaderTest, BatchesTooLargeToHoldAreRefused) {
  for (const auto& [context, batch] :
       {std::pair<int64_t, int64_t>{int64_t{1} << 62, 4}, {4611686018427387905, 4},
        {int64_t{1} << 24, int64_t{1} << 10}, {97, int64_t{1} << 31}}) {
    LoaderOptions o = Options();
    o.context = context;
    o.global_batch = batch;
    EXPECT_TRUE(absl::IsInvalidArgument(Loader::Open(o).status())) << context << " x " << batch;
  }
}

TEST_F(LoaderTest, RanksPartitionTheSingleRankStream) {
  constexpr int kSteps = 40;  // enough to wrap around the smaller languages
  const std::vector<std::string> single = Rows(Options(), kSteps);
  for (int n : {2, 4}) {
    std::vector<std::vector<std::string>> per_rank;
    for (int r = 0; r < n; ++r) per_rank.push_back(Rows(Options(n, r), kSteps));
    std::vector<std::string> merged;
    const size_t rows = 8 / n;
    for (int s = 0; s < kSteps; ++s) {
      for (int r = 0; r < n; ++r) {
        merged.insert(merged.end(), per_rank[r].begin() + s * rows,
                      per_rank[r].begin() + (s + 1) * rows);
      }
    }
    EXPECT_EQ(merged, single) << "dp_size " << n;
  }
}

TEST_F(LoaderTest, SamplesArePackedDocumentsOpenedByBos) {
  const std::vector<std::string> rows = Rows(Options(), 5);
  int bos = 0;
  for (const std::string& row : rows) {
    for (char c : row) bos += static_cast<uint8_t>(c) == kBos;
  }
  EXPECT_GT(bos, 0);
  EXPECT_NE(Rows(Options(), 1), [] {
    LoaderOptions o = Options();
    o.seed = 8;
    return Rows(o, 1);
  }());
}

TEST_F(LoaderTest, ResumesExactlyFromSavedStateOnAnotherRankCount) {
  const std::vector<std::string> full = Rows(Options(), 30);
  auto first = Loader::Open(Options());
  for (int s = 0; s < 13; ++s) ASSERT_TRUE((*first)->Next().ok());
  const std::string state = (*first)->SaveState();
  EXPECT_LT(state.size(), 200u);
  std::vector<std::string> resumed;
  for (int r = 0; r < 2; ++r) {
    auto loader = Loader::Open(Options(2, r));
    ASSERT_TRUE((*loader)->RestoreState(state).ok());
    auto batch = (*loader)->Next();
    EXPECT_EQ(batch->step, 13);
    for (int i = 0; i < 4; ++i) {
      resumed.emplace_back(batch->targets.begin() + i * 97, batch->targets.begin() + (i + 1) * 97);
    }
  }
  EXPECT_EQ(resumed, std::vector<std::string>(full.begin() + 13 * 8, full.begin() + 14 * 8));
}

TEST_F(LoaderTest, PrefetchMatchesDirectAndSavesConsumedState) {
  PrefetchLoader prefetch(*Loader::Open(Options()));
  auto direct = Loader::Open(Options());
  for (int s = 0; s < 6; ++s) {
    auto a = prefetch.Next();
    auto b = (*direct)->Next();
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->targets, b->targets);
    EXPECT_EQ(prefetch.SaveState(), (*direct)->SaveState());
  }
}

TEST_F(LoaderTest, MixingFollowsWeightsAndTemperature) {
  auto count = [&](LoaderOptions o) {
    o.global_batch = 64;
    auto loader = Loader::Open(o);
    EXPECT_TRUE(loader.ok()) << loader.status();
    std::map<std::string, double> share;
    for (int s = 0; s < 100; ++s) {
      auto batch = (*loader)->Next();
      for (int32_t l : batch->language) share[(*loader)->languages()[l]] += 1.0 / 6400;
    }
    return share;
  };
  LoaderOptions weighted = Options();
  weighted.weights = {{"en", 1}, {"ja", 3}};
  auto share = count(weighted);
  EXPECT_NEAR(share["en"], 0.25, 0.03);
  EXPECT_NEAR(share["ja"], 0.75, 0.03);
  EXPECT_EQ(share.count("de"), 0u);

  LoaderOptions uniform = Options();
  uniform.alpha = 0.0;  // temperature to the limit: every language alike
  for (const auto& [language, s] : count(uniform)) EXPECT_NEAR(s, 0.25, 0.03) << language;

  auto loader = Loader::Open(Options());  // alpha 1: proportional to bytes
  const double en = (*loader)->probabilities()[1];
  EXPECT_NEAR(en, 0.5, 0.03);

  // UniMax over de 20000, en 60000, fr 30000, ja 10000 bytes (the train
  // split holds ~90% of each) with a budget of 50000 and one epoch: ja takes
  // all of its ~9000, the others split the rest evenly (~13700 each), so
  // en, three times de's size, is drawn no more often than de.
  LoaderOptions unimax = Options();
  unimax.unimax = true;
  unimax.budget_bytes = 50000;
  const auto unimax_share = count(unimax);
  EXPECT_NEAR(unimax_share.at("ja"), 0.18, 0.03);
  for (const char* language : {"de", "en", "fr"}) {
    EXPECT_NEAR(unimax_share.at(language), 0.273, 0.03) << language;
  }
}

// Temperature mixing at the top of data.alpha's range: bytes^100 overflows a
// double, which made every probability NaN and the draw always pick the
// last language. Relative sizes keep it finite: the largest takes nearly all.
TEST(MixingTest, LargeAlphaStaysFinite) {
  const std::map<std::string, int64_t> bytes = {{"a", 20000}, {"b", 60000}, {"c", 30000}};
  auto p = MixingProbabilities(bytes, {}, 100.0);
  ASSERT_TRUE(p.ok()) << p.status();
  for (double x : *p) EXPECT_TRUE(std::isfinite(x));
  EXPECT_NEAR((*p)[1], 1.0, 1e-12);
  auto linear = MixingProbabilities(bytes, {}, 1.0);
  EXPECT_DOUBLE_EQ((*linear)[0], 20000.0 / 110000);
}

TEST(MixingTest, UniMaxSharesTheBudgetEvenlyUpToTheEpochCap) {
  const std::map<std::string, int64_t> bytes = {{"a", 10}, {"b", 100}, {"c", 1000}};
  // One epoch: a and b are capped at their size, c takes what is left.
  auto one = UniMaxProbabilities(bytes, 600, 1);
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_DOUBLE_EQ((*one)[0], 10.0 / 600);
  EXPECT_DOUBLE_EQ((*one)[1], 100.0 / 600);
  EXPECT_DOUBLE_EQ((*one)[2], 490.0 / 600);
  // Four epochs: a takes 40, b and c split the remaining 560.
  auto four = UniMaxProbabilities(bytes, 600, 4);
  EXPECT_DOUBLE_EQ((*four)[0], 40.0 / 600);
  EXPECT_DOUBLE_EQ((*four)[1], 280.0 / 600);
  EXPECT_DOUBLE_EQ((*four)[2], 280.0 / 600);
  // A budget past every cap: proportional to bytes.
  auto capped = UniMaxProbabilities(bytes, 1e6, 1);
  EXPECT_DOUBLE_EQ((*capped)[2], 1000.0 / 1110);
  EXPECT_FALSE(UniMaxProbabilities(bytes, 600, 0).ok());
  EXPECT_FALSE(UniMaxProbabilities(bytes, 0, 1).ok());
}

TEST_F(LoaderTest, CorruptRecordIsReportedOrSkipped) {
  const std::string dir = testing::FreshDir("loader_corrupt");
  std::filesystem::copy(*dataset_, dir, std::filesystem::copy_options::recursive);
  auto manifest = ReadManifest(dir);
  std::string shard;
  for (const auto& s : manifest->shards()) {
    if (s.split() == "train" && s.languages(0).language() == "ja") shard = dir + "/" + s.file();
  }
  {
    std::fstream f(shard, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(40);
    f.put('\x01');
  }
  LoaderOptions o = Options();
  o.data_dir = dir;
  o.weights = {{"ja", 1}};
  auto loader = Loader::Open(o);
  absl::Status failure;
  for (int s = 0; s < 50 && failure.ok(); ++s) failure = (*loader)->Next().status();
  EXPECT_TRUE(absl::IsDataLoss(failure));
  EXPECT_NE(failure.message().find(shard + ": payload checksum mismatch in the record at byte offset 0"),
            std::string::npos) << failure;

  // Skipped, and counted once however many epochs pass over it, also
  // across a save and restore.
  o.skip_corrupt = true;
  auto skipping = Loader::Open(o);
  for (int s = 0; s < 100; ++s) ASSERT_TRUE((*skipping)->Next().ok());
  const std::string state = (*skipping)->SaveState();
  auto resumed = Loader::Open(o);
  ASSERT_TRUE((*resumed)->RestoreState(state).ok());
  for (int s = 0; s < 100; ++s) ASSERT_TRUE((*resumed)->Next().ok());
  EXPECT_EQ((*skipping)->corrupt_records(), 1);
  EXPECT_EQ((*resumed)->corrupt_records(), 1);
  proto::LoaderState saved;
  ASSERT_TRUE(saved.ParseFromString(state));
  EXPECT_GT(saved.cursors(0).epoch(), 1) << "the record was passed more than once";
}

// A loader state whose cursor points past this dataset's shards or records
// (the corpus was re-prepared since) is refused, not read out of bounds.
TEST_F(LoaderTest, StateFromAnotherDatasetIsRefused) {
  auto loader = Loader::Open(Options());
  ASSERT_TRUE((*loader)->Next().ok());
  proto::LoaderState state;
  ASSERT_TRUE(state.ParseFromString((*loader)->SaveState()));
  for (auto edit : {+[](proto::LanguageCursor& c) { c.set_record(1 << 30); },
                    +[](proto::LanguageCursor& c) { c.set_shard(-1); },
                    +[](proto::LanguageCursor& c) { c.set_shard(1000); }}) {
    proto::LoaderState bad = state;
    edit(*bad.mutable_cursors(0));
    auto fresh = Loader::Open(Options());
    const absl::Status s = (*fresh)->RestoreState(bad.SerializeAsString());
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
    EXPECT_NE(s.message().find("not the one the state was saved with"), std::string::npos) << s;
  }
}

// Shard index offsets that are valid numbers but point outside the shard.
TEST_F(LoaderTest, IndexOffsetsOutsideTheShardAreCorrupt) {
  const std::string dir = testing::FreshDir("loader_bad_offsets");
  std::filesystem::copy(*dataset_, dir, std::filesystem::copy_options::recursive);
  auto manifest = ReadManifest(dir);
  for (const auto& s : manifest->shards()) {
    const std::string shard = dir + "/" + s.file();
    auto offsets = ReadShardIndex(IndexPath(shard));
    ASSERT_TRUE(offsets.ok());
    offsets->back() = s.file_bytes() + 100;
    ASSERT_TRUE(WriteShardIndex(IndexPath(shard), *offsets).ok());
  }
  LoaderOptions o = Options();
  o.data_dir = dir;
  auto loader = Loader::Open(o);
  absl::Status failure = loader.status();
  for (int s = 0; s < 5 && failure.ok(); ++s) failure = (*loader)->Next().status();
  EXPECT_TRUE(absl::IsDataLoss(failure)) << failure;
  EXPECT_NE(failure.message().find("is out of order or past the end of"), std::string::npos)
      << failure;
}

TEST_F(LoaderTest, TruncatedShardIsReportedWithOffset) {
  const std::string dir = testing::FreshDir("loader_truncated");
  std::filesystem::copy(*dataset_, dir, std::filesystem::copy_options::recursive);
  auto manifest = ReadManifest(dir);
  const std::string shard = dir + "/" + manifest->shards(0).file();
  std::filesystem::resize_file(shard, 100);
  LoaderOptions o = Options();
  o.data_dir = dir;
  auto loader = Loader::Open(o);
  EXPECT_TRUE(absl::IsDataLoss(loader.status()));
  EXPECT_NE(loader.status().message().find(shard + ": truncated at byte offset 100"),
            std::string::npos) << loader.status();
}

TEST_F(LoaderTest, EvalStreamCoversEverySplitByteOnce) {
  auto manifest = ReadManifest(*dataset_);
  std::map<std::string, int64_t> expected;  // BOS + text per document
  for (const auto& s : manifest->shards()) {
    if (s.split() == "validation") expected[s.languages(0).language()] += s.bytes() + s.records();
  }
  auto stream = EvalStream::Open(*dataset_, "validation", 64);
  ASSERT_TRUE(stream.ok()) << stream.status();
  std::map<std::string, int64_t> seen;
  EvalWindow window;
  int32_t previous = -1;
  while (*(*stream)->Next(&window)) {
    if (window.language != previous) EXPECT_EQ(window.targets[0], kBos);
    previous = window.language;
    seen[(*stream)->languages()[window.language]] += window.length;
  }
  EXPECT_EQ(seen, expected);
}

}  // namespace
}  // namespace spacebyte::data
