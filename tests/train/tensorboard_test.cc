// TensorBoard event files from the real `spacebyte train`, read back by the
// `tensorboard` package from PyPI (SPACEBYTE_TENSORBOARD_PYTHON; the test
// skips where that Python cannot import it).

#include <filesystem>
#include <map>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/cli/run_command.h"
#include "tests/train/train_program.h"

namespace spacebyte::trainer {
namespace {

const std::string kPython = SPACEBYTE_TENSORBOARD_PYTHON;

// tag -> step -> values logged at that step (more than one: a repeated step)
using Scalars = std::map<std::string, std::map<int64_t, std::vector<double>>>;

Scalars ReadWithTensorBoard(const std::string& dir) {
  const CommandResult r =
      RunCommand(kPython + " " + SPACEBYTE_SOURCE_DIR + "/tests/train/read_tensorboard.py " + dir);
  EXPECT_EQ(r.status, 0) << r.output;
  Scalars scalars;
  // The JSON is the last line; TensorFlow-less TensorBoard may warn before it.
  const std::string json = r.output.substr(r.output.rfind('{'));
  const nlohmann::json parsed = nlohmann::json::parse(json);
  for (const auto& [tag, events] : parsed.items()) {
    for (const auto& e : events) scalars[tag][e[0].get<int64_t>()].push_back(e[1].get<double>());
  }
  return scalars;
}

class TensorBoardTest : public ProgramTest {
 protected:
  void SetUp() override {
    ProgramTest::SetUp();
    if (RunCommand(kPython + " -c 'import tensorboard'").status != 0) {
      GTEST_SKIP() << kPython << " cannot import tensorboard (launch/test_all.sh installs it)";
    }
  }
};

// Killed while saving step 6 (steps 5 and 6 logged, the checkpoint at 4),
// then resumed: every training step appears once in TensorBoard with the
// values of metrics.jsonl, and so do the final evaluations.
TEST_F(TensorBoardTest, EveryScalarOnceAcrossACrashAndResume) {
  const std::string config = WriteTinyConfig(dir_, PrepCorpus(dir_), 8);
  const std::string run = dir_ + "/run";
  const CommandResult killed =
      Train(config, run, {"checkpoint.interval=2"}, "SPACEBYTE_TEST_KILL_AT=files:6");
  ASSERT_NE(killed.status, 0) << killed.output;
  const CommandResult resumed = Train(config, run, {"checkpoint.interval=2"});
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  ASSERT_NE(resumed.output.find("at step 4"), std::string::npos) << resumed.output;

  const Scalars tb = ReadWithTensorBoard(run + "/tensorboard");
  for (const char* tag : {"train/loss", "train/bits_per_byte", "train/lr", "train/grad_norm",
                          "train/bytes_per_s", "train/ignored_fraction", "train/bytes_seen"}) {
    ASSERT_TRUE(tb.count(tag)) << tag;
    EXPECT_EQ(tb.at(tag).size(), 8u) << tag;
    for (const auto& [step, values] : tb.at(tag)) {
      EXPECT_EQ(values.size(), 1u) << tag << " repeated at step " << step;
    }
  }
  for (const TrainMetrics& line : TrainingLines(run)) {
    for (const auto& [key, want] : {std::pair{"loss", line.loss}, std::pair{"lr", line.lr},
                                    std::pair{"grad_norm", line.grad_norm}}) {
      EXPECT_NEAR(tb.at(std::string("train/") + key).at(line.step).at(0), want,
                  1e-6 * std::abs(want))
          << key << " at step " << line.step;
    }
  }
  const EvalResult test = EvalLines(run, "test").back();
  EXPECT_NEAR(tb.at("test/bits_per_byte").at(8).at(0), test.bits_per_byte(), 1e-5);
  for (const auto& [language, bpb] : test.bits_per_byte_by_language) {
    EXPECT_NEAR(tb.at("test/bits_per_byte_by_language/" + language).at(8).at(0), bpb, 1e-5);
  }
  EXPECT_FALSE(tb.count("train/steps")) << "the run's length is no figure";
  EXPECT_TRUE(tb.count("validation/coverage"));
}

// Killed while saving its first checkpoint (steps 1 and 2 logged, nothing
// to resume), then run again from step 0: the dead run's events go, as its
// metrics.jsonl lines do.
TEST_F(TensorBoardTest, EveryScalarOnceAfterACrashBeforeTheFirstCheckpoint) {
  const std::string config = WriteTinyConfig(dir_, PrepCorpus(dir_), 4);
  const std::string run = dir_ + "/run";
  const CommandResult killed =
      Train(config, run, {"checkpoint.interval=2"}, "SPACEBYTE_TEST_KILL_AT=files:2");
  ASSERT_NE(killed.status, 0) << killed.output;
  const CommandResult again = Train(config, run, {"checkpoint.interval=2"});
  ASSERT_EQ(again.status, 0) << again.output;
  ASSERT_EQ(again.output.find("resumed"), std::string::npos) << again.output;
  const Scalars tb = ReadWithTensorBoard(run + "/tensorboard");
  ASSERT_TRUE(tb.count("train/loss"));
  EXPECT_EQ(tb.at("train/loss").size(), 4u);
  for (const auto& [step, values] : tb.at("train/loss")) {
    EXPECT_EQ(values.size(), 1u) << "train/loss repeated at step " << step;
  }
}

TEST_F(TensorBoardTest, SwitchedOffWritesNoEventFiles) {
  const std::string config = WriteTinyConfig(dir_, PrepCorpus(dir_), 1);
  const CommandResult r = Train(config, dir_ + "/off", {"log.tensorboard=false"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/off/tensorboard"));
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/off/metrics.jsonl"));
}

}  // namespace
}  // namespace spacebyte::trainer
