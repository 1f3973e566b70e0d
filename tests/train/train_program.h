#ifndef SPACEBYTE_TESTS_TRAINER_TRAIN_PROGRAM_H_
#define SPACEBYTE_TESTS_TRAINER_TRAIN_PROGRAM_H_

// Helpers for tests that drive the real `spacebyte` program: a prepared
// slice of the bundled corpus, a tiny run config, and the run's metrics.

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/cli/run_command.h"
#include "train/metrics.h"

namespace spacebyte::trainer {

// Gives each test a fresh directory of its own (named after the test and
// the process), removed when the test passes.
class ProgramTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  std::string dir_;
};

// `spacebyte prep` of three UDHR languages into `dir` (done once per dir).
std::string PrepCorpus(const std::string& dir,
                       const std::vector<std::string>& languages = {"eng", "deu", "fra"});

// Writes a tiny SpaceByte run config (D 64, d 32, T 64, TG 16, batch 4,
// `steps` steps, one log line per step, one thread) reading `data` to
// `dir`/run.textproto; returns its path.
std::string WriteTinyConfig(const std::string& dir, const std::string& data, int steps);

// `spacebyte train` (under `launcher`, e.g. "mpirun -np 2", when given).
CommandResult Train(const std::string& config, const std::string& run_dir,
                    const std::vector<std::string>& sets, const std::string& launcher = "");

// The lines of RUN_DIR/metrics.jsonl, read by the trainer's own reader:
// training lines, or evaluation lines of `split`.
std::vector<TrainMetrics> TrainingLines(const std::string& run_dir);
std::vector<EvalResult> EvalLines(const std::string& run_dir, const std::string& split);

// Fails the test unless both runs logged the same steps with losses and
// gradient norms within `tolerance`.
void ExpectSameCurve(const std::string& run_a, const std::string& run_b, double tolerance);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_TESTS_TRAINER_TRAIN_PROGRAM_H_
