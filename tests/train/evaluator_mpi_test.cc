// Evaluation scores every byte of a split exactly once, whatever the patch
// rule: where the utf8 rule runs past the global context the next window
// starts at the first unscored byte; the multilingual rule never does. Runs
// on 1 and 2 ranks (windows shared out by index).

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <torch/version.h>

#include "data/prep.h"
#include "tests/parallel/mpi_gtest_main.h"
#include "train/training_session.h"
#include "train/evaluator.h"

namespace spacebyte::trainer {
namespace {

namespace fs = std::filesystem;

ModelSpec Spec(PatchMethod method) {
  ModelSpec s;
  s.d_model = 32;
  s.d_local = 16;
  s.context_size = 64;
  s.global_context_size = 8;
  s.n_layers = 1;
  s.n_local_layers = 2;
  s.n_initial_layers = 1;
  s.local_attention_window = 8;
  s.d_key = 8;
  s.patch_method = method;
  return s;
}

std::string Repeat(const std::string& text, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += text;
  return out;
}

class EvaluatorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const int rank = test_support::TestMpiEnv().world_rank();
    root_ = fs::temp_directory_path() /
            ("spacebyte_validation_" + std::to_string(::getpid()) + "_" + std::to_string(rank));
    fs::create_directories(root_ / "in");
    std::ofstream(root_ / "in" / "eng.txt") << Repeat("All human beings are born free. ", 40);
    // "Все люди рождаются свободными. " (Russian): two bytes a letter.
    std::ofstream(root_ / "in" / "rus.txt")
        << Repeat("\xD0\x92\xD1\x81\xD0\xB5 \xD0\xBB\xD1\x8E\xD0\xB4\xD0\xB8 "
                  "\xD1\x80\xD0\xBE\xD0\xB6\xD0\xB4\xD0\xB0\xD1\x8E\xD1\x82\xD1\x81\xD1\x8F "
                  "\xD1\x81\xD0\xB2\xD0\xBE\xD0\xB1\xD0\xBE\xD0\xB4\xD0\xBD\xD1\x8B\xD0\xBC\xD0\xB8. ",
                  30);
    data::PrepOptions o;
    o.inputs = {(root_ / "in").string()};
    o.out = (root_ / "data").string();
    o.language_from = "([a-z]+)\\.txt$";
    o.validation_fraction = 0;
    o.test_fraction = 0;
    std::ostringstream out, err;
    ASSERT_TRUE(data::RunPrep(o, out, err).ok()) << err.str();
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }

  EvalResult Evaluate(PatchMethod method, int64_t windows_per_language,
                      int64_t word_patch_bytes = 0, bool bf16 = false) {
    torch::manual_seed(3);
    ModelSpec spec = Spec(method);
    spec.word_patch_bytes = word_patch_bytes;
    std::shared_ptr<ByteLm> model = MakeModel(spec);
    absl::StatusOr<std::unique_ptr<Evaluator>> evaluator = Evaluator::Open(
        (root_ / "data").string(), "train", model->spec(), windows_per_language);
    EXPECT_TRUE(evaluator.ok()) << evaluator.status();
    absl::StatusOr<std::unique_ptr<parallel::Collectives>> dp =
        MakeCollectives(MPI_COMM_WORLD, torch::kCPU);
    EXPECT_TRUE(dp.ok()) << dp.status();
    return (*evaluator)->Evaluate(*model, 0, **dp, /*batch_size=*/4, bf16);
  }

  static fs::path root_;
};

fs::path EvaluatorTest::root_;

TEST_F(EvaluatorTest, EveryByteIsScoredOnceWhateverThePatchRule) {
  const EvalResult utf8 = Evaluate(PatchMethod::kUtf8, 0);
  const EvalResult multilingual = Evaluate(PatchMethod::kMultilingual, 0);
  for (const EvalResult* m : {&utf8, &multilingual}) {
    EXPECT_DOUBLE_EQ(m->coverage, 1.0);
    ASSERT_EQ(m->bits_per_byte_by_language.size(), 2u);
    for (const auto& [language, bpb] : m->bits_per_byte_by_language) {
      EXPECT_TRUE(std::isfinite(bpb) && bpb > 0) << language;
    }
  }
  // utf8 gives each Cyrillic letter a patch: T/TG = 8 bytes per patch is too
  // few, a share of each training window is ignored, and evaluation needs
  // more windows to score every byte.
  EXPECT_LT(utf8.bytes_per_patch_by_language.at("rus"), 3.0);
  EXPECT_GT(utf8.ignored_fraction_by_language.at("rus"), 0.3);
  EXPECT_GT(utf8.windows, multilingual.windows);
  EXPECT_GT(multilingual.bytes_per_patch_by_language.at("rus"), 6.0);
  for (const auto& [language, ignored] : multilingual.ignored_fraction_by_language) {
    EXPECT_EQ(ignored, 0.0) << language;
  }
  EXPECT_EQ(multilingual.ignored_fraction, 0.0);
}

TEST_F(EvaluatorTest, BoundariesTheBudgetRefusedAreReportedPerLanguage) {
  // utf8 has no budget: it refuses nothing, even where it overflows.
  const EvalResult utf8 = Evaluate(PatchMethod::kUtf8, 0);
  for (const auto& [language, refused] : utf8.refused_fraction_by_language) {
    EXPECT_EQ(refused, 0.0) << language;
  }
  // Words end often enough for TG 8 of T 64.
  const EvalResult words = Evaluate(PatchMethod::kMultilingual, 0);
  EXPECT_LT(words.refused_fraction_by_language.at("rus"), 0.1);
  // A patch per Cyrillic letter is wanted, one per 8 bytes allowed: most
  // wanted boundaries are refused, and still nothing is ignored.
  const EvalResult letters = Evaluate(PatchMethod::kMultilingual, 0, /*word_patch_bytes=*/2);
  EXPECT_GT(letters.refused_fraction_by_language.at("rus"), 0.5);
  EXPECT_EQ(letters.ignored_fraction_by_language.at("rus"), 0.0);
}

TEST_F(EvaluatorTest, AWindowLimitCutsCoverageShort) {
  const EvalResult m = Evaluate(PatchMethod::kUtf8, 1);
  EXPECT_EQ(m.windows, 2);  // one per language
  EXPECT_GT(m.coverage, 0.0);
  EXPECT_LT(m.coverage, 0.1);
}

// train.precision bf16 evaluates under the same autocast as its training
// steps (the reference's way, and on a GPU several times faster than
// float32): the figures move by bf16's rounding only.
TEST_F(EvaluatorTest, Bf16ScoresUnderAutocastCloseToFp32) {
  if (TORCH_VERSION_MAJOR < 2) GTEST_SKIP() << "bf16 autocast needs LibTorch >= 2";
  const EvalResult fp32 = Evaluate(PatchMethod::kUtf8, 0);
  const EvalResult bf16 = Evaluate(PatchMethod::kUtf8, 0, 0, /*bf16=*/true);
  EXPECT_EQ(fp32.precision, "fp32");
  EXPECT_EQ(bf16.precision, "bf16");
  EXPECT_EQ(bf16.windows, fp32.windows);
  EXPECT_DOUBLE_EQ(bf16.coverage, 1.0);
  EXPECT_NE(bf16.loss, fp32.loss) << "the same figure: the forward did not run in bf16";
  EXPECT_NEAR(bf16.loss, fp32.loss, 0.01 * fp32.loss);
  for (const auto& [language, bpb] : fp32.bits_per_byte_by_language) {
    EXPECT_NEAR(bf16.bits_per_byte_by_language.at(language), bpb, 0.01 * bpb) << language;
  }
}

}  // namespace
}  // namespace spacebyte::trainer
