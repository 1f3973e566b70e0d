// `spacebyte train` as a user runs it, on one process: the loss falls on the
// bundled corpus and `report` draws it; validation scores every byte; the
// multilingual patch rule ignores no target where utf8 ignores many, and
// `data patches` shows it without a model; accumulation and activation
// checkpointing leave the losses unchanged; budgets set the step count; bad
// configs give one clear line and a non-zero exit.

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <torch/version.h>

#include "absl/strings/str_split.h"
#include "train_program.h"

namespace spacebyte::trainer {
namespace {

class TrainProgramTest : public ProgramTest {
 protected:
  void SetUp() override {
    ProgramTest::SetUp();
    data_ = PrepCorpus(dir_);
  }
  std::string Config(int steps) { return WriteTinyConfig(dir_, data_, steps); }

  std::string data_;
};

TEST_F(TrainProgramTest, ValidationBitsPerByteFallsAndReportDrawsIt) {
  const std::string run = dir_ + "/run";
  const CommandResult r = Train(Config(60), run,
                                {"train.log_interval=10", "train.eval_interval=20",
                                 "train.batch_size=8"});
  ASSERT_EQ(r.status, 0) << r.output;
  const std::vector<EvalResult> validation = EvalLines(run, "validation");
  ASSERT_EQ(validation.size(), 3u) << r.output;  // steps 20, 40 and the final one
  const double first = validation.front().bits_per_byte(), last = validation.back().bits_per_byte();
  EXPECT_LT(last, first - 0.5) << "validation bits/byte " << first << " -> " << last;
  for (const char* language : {"eng", "deu", "fra"}) {
    EXPECT_TRUE(validation.back().bits_per_byte_by_language.count(language)) << language;
    EXPECT_TRUE(validation.back().ignored_fraction_by_language.count(language)) << language;
    EXPECT_TRUE(validation.back().bytes_per_patch_by_language.count(language)) << language;
  }
  EXPECT_EQ(validation.back().coverage, 1.0) << "every byte is scored";
  EXPECT_EQ(EvalLines(run, "test").size(), 1u);
  const std::vector<TrainMetrics> training = TrainingLines(run);
  ASSERT_EQ(training.size(), 6u);
  const TrainMetrics& end = training.back();
  EXPECT_EQ(end.step, 60);
  EXPECT_EQ(end.steps, 60);
  for (double figure : {end.lr, end.grad_norm, end.bytes_per_s, end.flops_per_s,
                        end.ignored_fraction, end.elapsed_s}) {
    EXPECT_TRUE(std::isfinite(figure));
  }
  EXPECT_TRUE(end.mfu.has_value());
  EXPECT_EQ(end.bytes_seen, 60 * 8 * 64);
  EXPECT_LT(end.loss, training.front().loss);

  const CommandResult report = RunCommand(std::string(SPACEBYTE_BIN) + " report " + run);
  ASSERT_EQ(report.status, 0) << report.output;
  std::ifstream page(run + "/report.html");
  std::stringstream html;
  html << page.rdbuf();
  EXPECT_NE(html.str().find("<svg"), std::string::npos);
  EXPECT_NE(html.str().find("data-name='validation'"), std::string::npos);
  EXPECT_NE(html.str().find("data-name='eng'"), std::string::npos);
  EXPECT_NE(html.str().find("<th>bytes per patch</th>"), std::string::npos);

  const CommandResult sample = RunCommand(std::string(SPACEBYTE_BIN) + " sample --checkpoint " +
                                          run + " --prompt 'All human' --max_bytes 20");
  EXPECT_EQ(sample.status, 0) << sample.output;

  // `eval` of the final checkpoint names its step and scores the test split
  // as training's last test line did.
  const CommandResult eval =
      RunCommand(std::string(SPACEBYTE_BIN) + " eval --checkpoint " + run + " --data " + data_ +
                     " --split test",
                 /*with_stderr=*/false);
  ASSERT_EQ(eval.status, 0) << eval.output;
  const nlohmann::json scored = nlohmann::json::parse(eval.output.substr(eval.output.find('{')));
  EXPECT_EQ(scored.at("step").get<int64_t>(), 60);
  EXPECT_EQ(scored.at("coverage").get<double>(), 1.0);
  EXPECT_EQ(scored.at("precision"), "fp32");
  EXPECT_EQ(EvalLines(run, "test").back().precision, "fp32");
  EXPECT_NEAR(scored.at("bits_per_byte").get<double>(),
              EvalLines(run, "test").back().bits_per_byte(), 1e-5);
}

// Russian and Chinese beside English, at T/TG = 4 bytes per patch.
class MultilingualProgramTest : public ProgramTest {
 protected:
  void SetUp() override {
    ProgramTest::SetUp();
    data_ = PrepCorpus(dir_, {"eng", "rus", "cmn"});
  }
  std::string data_;
};

TEST_F(MultilingualProgramTest, TrainsWithoutIgnoringATargetWhereUtf8IgnoresMany) {
  const std::string config = WriteTinyConfig(dir_, data_, 6);
  for (const char* method : {"utf8", "multilingual"}) {
    const std::string run = dir_ + "/" + method;
    const CommandResult r =
        Train(config, run, {std::string("model.patch_method=") + method});
    ASSERT_EQ(r.status, 0) << r.output;
    double ignored = 0;
    for (const TrainMetrics& line : TrainingLines(run)) ignored += line.ignored_fraction;
    const EvalResult test = EvalLines(run, "test").back();
    EXPECT_EQ(test.coverage, 1.0) << method;
    const double rus = test.ignored_fraction_by_language.at("rus");
    if (std::string(method) == "multilingual") {
      EXPECT_EQ(ignored, 0.0);
      EXPECT_EQ(test.ignored_fraction, 0.0);
      EXPECT_EQ(rus, 0.0);
      EXPECT_GT(test.bytes_per_patch_by_language.at("rus"), 4.0);
    } else {
      EXPECT_GT(ignored, 0.0);
      EXPECT_GT(rus, 0.2);
    }
  }
}

TEST_F(MultilingualProgramTest, DataPatchesMeasuresARuleWithoutAModel) {
  auto patches = [&](const std::string& method, int global, const std::string& more = "") {
    return RunCommand(std::string(SPACEBYTE_BIN) + " data patches --data " + data_ +
                          " --patch_method " + method + " --context 64 --global_context " +
                          std::to_string(global) + " --dense_patch_bytes 3" + more,
                      /*with_stderr=*/false);
  };
  // A language row's cell under `column` in the header line.
  auto cell = [](const std::string& output, const std::string& language,
                 const std::string& column) {
    std::vector<std::string> header;
    for (const absl::string_view line : absl::StrSplit(output, '\n')) {
      const std::vector<std::string> cells = absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (!cells.empty() && cells.front() == "language") header = cells;
      if (cells.empty() || cells.front() != language || cells.size() != header.size()) continue;
      for (size_t i = 0; i < header.size(); ++i) {
        if (header[i] == column) return std::stod(cells[i]);
      }
    }
    return -1.0;
  };
  const CommandResult utf8 = patches("utf8", 16), multilingual = patches("multilingual", 16),
                      wide = patches("multilingual", 32);
  ASSERT_EQ(utf8.status, 0) << utf8.output;
  ASSERT_EQ(multilingual.status, 0) << multilingual.output;
  ASSERT_EQ(wide.status, 0) << wide.output;
  EXPECT_GT(cell(utf8.output, "rus", "ignored"), 0.2) << utf8.output;
  EXPECT_GT(cell(utf8.output, "cmn", "ignored"), 0.1) << utf8.output;
  EXPECT_EQ(cell(utf8.output, "cmn", "refused"), 0.0) << utf8.output;
  for (const char* language : {"eng", "rus", "cmn", "all"}) {
    EXPECT_EQ(cell(multilingual.output, language, "ignored"), 0.0) << language << multilingual.output;
  }
  // With dense_patch_bytes 3 Chinese wants a patch per character: at TG 16
  // of 64 the budget refuses some of them, at TG 32 it has room.
  const double tight = cell(multilingual.output, "cmn", "refused");
  EXPECT_GT(tight, 0.05) << multilingual.output;
  EXPECT_LT(cell(wide.output, "cmn", "refused"), tight / 2) << wide.output;
  // Filling the global context cuts English words down to about T/TG bytes.
  const CommandResult filled = patches("multilingual", 16, " --fill_global_context");
  ASSERT_EQ(filled.status, 0) << filled.output;
  EXPECT_GT(cell(multilingual.output, "eng", "bytes/patch"), 5.0) << multilingual.output;
  EXPECT_LT(cell(filled.output, "eng", "bytes/patch"), 4.5) << filled.output;
  EXPECT_EQ(cell(filled.output, "all", "ignored"), 0.0) << filled.output;
  const CommandResult not_multilingual =
      RunCommand(std::string(SPACEBYTE_BIN) + " data patches --data " + data_ +
                 " --patch_method utf8 --context 64 --global_context 16 --fill_global_context");
  EXPECT_EQ(not_multilingual.status, 1);
  EXPECT_NE(not_multilingual.output.find("needs model.patch_method = multilingual"),
            std::string::npos)
      << not_multilingual.output;
  const CommandResult bad = RunCommand(std::string(SPACEBYTE_BIN) + " data patches --data " +
                                       data_ + " --patch_method utf8 --context 8 --global_context 16");
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.output.find("exceeds model.context_size"), std::string::npos) << bad.output;
  // T past any model's bound, as a config would have it.
  const CommandResult huge =
      RunCommand(std::string(SPACEBYTE_BIN) + " data patches --data " + data_ +
                 " --patch_method utf8 --context 9223372036854775807 --global_context 16");
  EXPECT_EQ(huge.status, 1);
  EXPECT_NE(huge.output.find("model.context_size = 9223372036854775807 exceeds 16777216"),
            std::string::npos)
      << huge.output;
}

TEST_F(TrainProgramTest, MicroBatchesGiveTheSameLosses) {
  const std::string config = Config(5);
  ASSERT_EQ(Train(config, dir_ + "/whole", {}).status, 0);
  const CommandResult r = Train(config, dir_ + "/micro", {"train.micro_batch_size=1"});
  ASSERT_EQ(r.status, 0) << r.output;
  ExpectSameCurve(dir_ + "/whole", dir_ + "/micro", 1e-5);
}

TEST_F(TrainProgramTest, ActivationCheckpointingGivesTheSameLosses) {
  const std::string config = Config(5);
  ASSERT_EQ(Train(config, dir_ + "/plain", {}).status, 0);
  const CommandResult r =
      Train(config, dir_ + "/checkpointed", {"train.activation_checkpointing=true"});
  ASSERT_EQ(r.status, 0) << r.output;
  ExpectSameCurve(dir_ + "/plain", dir_ + "/checkpointed", 1e-5);
}

// A bf16 run evaluates under the autocast it trains under (the reference's
// way); its lines say so.
TEST_F(TrainProgramTest, Bf16RunEvaluatesInBf16) {
  if (TORCH_VERSION_MAJOR < 2) GTEST_SKIP() << "bf16 autocast needs LibTorch >= 2";
  const std::string run = dir_ + "/run";
  const CommandResult r = Train(Config(2), run, {"train.precision=bf16"});
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* split : {"validation", "test"}) {
    const std::vector<EvalResult> lines = EvalLines(run, split);
    ASSERT_EQ(lines.size(), 1u) << split;
    EXPECT_EQ(lines.back().precision, "bf16") << split;
  }
}

TEST_F(TrainProgramTest, ByteBudgetSetsTheStepCount) {
  // 4 samples of 64 bytes per step: 1100 bytes take 5 steps (the last partly).
  const std::string run = dir_ + "/run";
  const CommandResult r = Train(Config(0), run, {"train.budget_bytes=1100"});
  ASSERT_EQ(r.status, 0) << r.output;
  const std::vector<TrainMetrics> training = TrainingLines(run);
  ASSERT_EQ(training.size(), 5u);
  EXPECT_EQ(training.back().step, 5);
  std::ifstream resolved(run + "/config.textproto");
  std::stringstream text;
  text << resolved.rdbuf();
  EXPECT_NE(text.str().find("steps: 5\n"), std::string::npos) << text.str();
}

// A learning rate that blows the weights up: the run stops at the first
// non-finite loss, exit 1, and saves nothing from then on. Without the stop
// every later step was saved and keep 2 pruned all but two NaN checkpoints.
TEST_F(TrainProgramTest, NonFiniteLossStopsWithoutSaving) {
  // An asynchronous save still in flight when the run stops holds the step
  // before: it is committed, not left as an unfinished .tmp.
  for (const char* async : {"false", "true"}) {
    const std::string run = dir_ + "/run_async_" + async;
    const CommandResult r = Train(
        Config(12), run,
        {"train.lr=1e6", "train.warmup_fraction=0", "train.grad_clip=0", "checkpoint.interval=1",
         "checkpoint.keep=2", "train.eval_interval=0", std::string("checkpoint.async=") + async});
    ASSERT_EQ(r.status, 1) << r.output;
    const size_t at = r.output.find("spacebyte: step ");
    ASSERT_NE(at, std::string::npos) << r.output;
    const int stopped = std::stoi(r.output.substr(at + 16));
    EXPECT_NE(r.output.find("stopped without saving"), std::string::npos) << r.output;
    EXPECT_LT(stopped, 12);
    int newest = 0;
    for (const auto& entry : std::filesystem::directory_iterator(run + "/checkpoints")) {
      const std::string name = entry.path().filename().string();
      if (name.rfind("step_", 0) == 0 && name.find('.') == std::string::npos) {
        newest = std::max(newest, std::stoi(name.substr(5)));
      }
    }
    EXPECT_EQ(newest, stopped - 1) << async << ": the last save is the step before the "
                                   << "non-finite loss";
  }
}

// A file where the checkpoints directory belongs is named as such, not as
// a run directory that cannot be created.
TEST_F(TrainProgramTest, FileInPlaceOfTheCheckpointsDirectoryIsNamed) {
  const std::string run = dir_ + "/run";
  std::filesystem::create_directories(run);
  std::ofstream(run + "/checkpoints") << "not a directory";
  const CommandResult r = Train(Config(2), run, {});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("cannot create " + run + "/checkpoints: "), std::string::npos)
      << r.output;
}

// A corpus prepared with no validation or test split: training skips those
// evaluations with a line each and still saves its final checkpoint.
// Before, the final evaluation failed and the run ended without it, on
// every rerun.
TEST_F(TrainProgramTest, CorpusWithoutEvaluationSplitsStillSavesTheRun) {
  const std::string corpus = std::string(SPACEBYTE_TESTDATA) + "/../../data/corpus/udhr/eng.txt";
  const std::string data = dir_ + "/train_only";
  const CommandResult prep = RunCommand(
      std::string(SPACEBYTE_BIN) + " prep --out " + data + " --input " + corpus +
      " --separator blank --language_from '([a-z]+)\\.txt$' --validation_fraction 0 "
      "--test_fraction 0");
  ASSERT_EQ(prep.status, 0) << prep.output;
  const std::string run = dir_ + "/run";
  const CommandResult r = Train(WriteTinyConfig(dir_, data, 4), run, {"train.eval_interval=2"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("no records in split 'validation': its evaluations are skipped"),
            std::string::npos)
      << r.output;
  EXPECT_TRUE(std::filesystem::exists(run + "/checkpoints/step_00000004")) << r.output;
}

struct BadConfig {
  const char* name;
  std::vector<std::string> sets;  // applied to the tiny config
  const char* config_text;        // replaces the tiny config when set
  const char* error;              // expected in the one line
};

void PrintTo(const BadConfig& c, std::ostream* os) { *os << c.name; }

// Every case fails before any data is read: no corpus needed.
class BadConfigTest : public ProgramTest, public ::testing::WithParamInterface<BadConfig> {};

TEST_P(BadConfigTest, OneClearLineAndNonZeroExit) {
  std::string config = WriteTinyConfig(dir_, "/nonexistent/udhr", 3);
  if (GetParam().config_text) {
    config = dir_ + "/bad.textproto";
    std::ofstream(config) << GetParam().config_text;
  }
  const CommandResult r = Train(config, dir_ + "/run", GetParam().sets);
  EXPECT_EQ(r.status, 1) << r.output;
  const std::vector<std::string> lines = absl::StrSplit(r.output, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 1u) << r.output;
  EXPECT_EQ(lines[0].rfind("spacebyte: ", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find(GetParam().error), std::string::npos) << lines[0];
}

INSTANTIATE_TEST_SUITE_P(
    Train, BadConfigTest,
    ::testing::Values(
        BadConfig{"UnknownField", {}, "model { d_modle: 64 }\n",
                  "bad.textproto:1:16: Message type \"spacebyte.proto.ModelConfig\" has no "
                  "field named \"d_modle\""},
        BadConfig{"UnknownOverride", {"train.stepz=3"}, nullptr, "train.stepz"},
        BadConfig{"LocalWiderThanGlobal", {"model.d_local=128"}, nullptr,
                  "model.d_local (128) exceeds model.d_model (64)"},
        BadConfig{"GlobalContextTooLong", {"model.global_context_size=65"}, nullptr,
                  "model.global_context_size (65) exceeds model.context_size (64)"},
        BadConfig{"MicroBatchDoesNotDivide", {"train.micro_batch_size=3"}, nullptr,
                  "train.micro_batch_size = 3 must divide the per-rank batch 4"},
        BadConfig{"NoDataPath", {"data.path=''"}, nullptr, "data.path is not set"},
        BadConfig{"HugeWidth", {"model.d_model=1073741824"}, nullptr,
                  "model.d_model = 1073741824 exceeds 65536"},
        BadConfig{"EndlessLayers", {"model.n_layers=1073741824"}, nullptr,
                  "model.n_layers = 1073741824 exceeds 1024"},
        BadConfig{"TooManyWeights", {"model.d_model=65536", "model.n_layers=1000"}, nullptr,
                  "weights, more than 1e+12"},
        BadConfig{"HugeBatch", {"train.batch_size=2147483647", "train.micro_batch_size=1"},
                  nullptr, "train.batch_size = 2147483647 must be in [1, 16777216]"},
        BadConfig{"MissingDataDir", {"data.path=/nonexistent/udhr"}, nullptr,
                  "/nonexistent/udhr"},
        BadConfig{"NoBudget", {"train.steps=0"}, nullptr, "exactly one of train.steps"},
        BadConfig{"UnknownPatchMethod", {"model.patch_method=bytes"}, nullptr,
                  "model.patch_method = 'bytes' is not one of utf8 | periodic | multilingual"},
        BadConfig{"UnknownMixing", {"data.mixing=uniform"}, nullptr,
                  "data.mixing = 'uniform' is not one of temperature | unimax"},
        BadConfig{"UniMaxWithAlpha", {"data.mixing=unimax", "data.alpha=0.3"}, nullptr,
                  "data.mixing = unimax sets the language weights itself"},
        BadConfig{"NanLearningRate", {"train.lr=nan"}, nullptr,
                  "train.lr = nan must be in (0, 1e6]"},
        BadConfig{"BetaAboveOne", {"train.beta1=7"}, nullptr, "train.beta1 = 7 must be in [0, 1)"},
        BadConfig{"NegativeClip", {"train.grad_clip=-1"}, nullptr,
                  "train.grad_clip = -1 must be finite and >= 0"},
        BadConfig{"NegativeTensorParallel", {"parallel.tp=-2"}, nullptr,
                  "parallel.tp = -2 is negative"}),
    [](const ::testing::TestParamInfo<BadConfig>& info) { return info.param.name; });

}  // namespace
}  // namespace spacebyte::trainer
