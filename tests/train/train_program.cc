#include "train_program.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace spacebyte::trainer {
namespace fs = std::filesystem;

void ProgramTest::SetUp() {
  const ::testing::TestInfo& test = *::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string(test.test_suite_name()) + "." + test.name();
  std::replace(name.begin(), name.end(), '/', '.');
  dir_ = (fs::path(::testing::TempDir()) /
          ("spacebyte_" + name + "_" + std::to_string(getpid()))).string();
  fs::remove_all(dir_);
  fs::create_directories(dir_);
}

void ProgramTest::TearDown() {
  if (!HasFailure()) fs::remove_all(dir_);
}

std::string PrepCorpus(const std::string& dir, const std::vector<std::string>& languages) {
  const std::string corpus = std::string(SPACEBYTE_TESTDATA) + "/../../data/corpus/udhr/";
  const std::string out = dir + "/data";
  std::string command = std::string(SPACEBYTE_BIN) + " prep --out " + out +
                        " --separator blank --language_from '([a-z]+)\\.txt$'"
                        " --validation_fraction 0.1 --test_fraction 0.1";
  for (const std::string& language : languages) {
    command += " --input " + corpus + language + ".txt";
  }
  const CommandResult r = RunCommand(command);
  EXPECT_EQ(r.status, 0) << command << "\n" << r.output;
  return out;
}

std::string WriteTinyConfig(const std::string& dir, const std::string& data, int steps) {
  const std::string path = dir + "/run.textproto";
  std::ofstream(path) << "model { d_model: 64 d_local: 32 context_size: 64 "
                         "global_context_size: 16 n_layers: 2 n_local_layers: 2 d_key: 16 }\n"
                      << "train { steps: " << steps
                      << " batch_size: 4 log_interval: 1 seed: 5 threads: 1 }\n"
                      << "data { path: '" << data << "' }\n";
  return path;
}

CommandResult Train(const std::string& config, const std::string& run_dir,
                    const std::vector<std::string>& sets, const std::string& launcher) {
  std::string command = launcher.empty() ? "" : launcher + " ";
  command += std::string(SPACEBYTE_BIN) + " train --config " + config + " --run_dir " + run_dir;
  for (const std::string& set : sets) command += " --set " + set;
  return RunCommand(command);
}

namespace {

MetricsLog Metrics(const std::string& run_dir) {
  absl::StatusOr<MetricsLog> log = ReadMetricsLog(run_dir + "/metrics.jsonl");
  EXPECT_TRUE(log.ok()) << log.status();
  return log.ok() ? *std::move(log) : MetricsLog{};
}

}  // namespace

std::vector<TrainMetrics> TrainingLines(const std::string& run_dir) {
  return Metrics(run_dir).train;
}

std::vector<EvalResult> EvalLines(const std::string& run_dir, const std::string& split) {
  std::vector<EvalResult> out;
  for (EvalResult& r : Metrics(run_dir).eval) {
    if (r.split == split) out.push_back(std::move(r));
  }
  return out;
}

void ExpectSameCurve(const std::string& run_a, const std::string& run_b, double tolerance) {
  const std::vector<TrainMetrics> a = TrainingLines(run_a), b = TrainingLines(run_b);
  ASSERT_FALSE(a.empty()) << run_a;
  ASSERT_EQ(a.size(), b.size()) << run_a << " vs " << run_b;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].step, b[i].step);
    EXPECT_NEAR(a[i].loss, b[i].loss, tolerance) << "loss at step " << a[i].step;
    EXPECT_NEAR(a[i].grad_norm, b[i].grad_norm, tolerance) << "grad_norm at step " << a[i].step;
  }
}

}  // namespace spacebyte::trainer
