// `spacebyte bench` prints its figures as one JSON line, the optimizer
// state each rank holds among them: both AdamW moments of every parameter
// (4 bytes each) and one int64 step count; with parallel.shard_optimizer on
// two ranks, each rank holds half the moments (up to one element of padding
// per gradient bucket).

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/version.h>

#include "model/byte_lm.h"
#include "tests/cli/run_command.h"
#include "train/config_file.h"

namespace spacebyte::trainer {
namespace {

std::string TinyConfig() {
  return std::string(SPACEBYTE_TESTDATA) + "/../../launch/configs/tiny.textproto";
}

nlohmann::json Bench(const std::string& launcher, const std::string& sets) {
  const CommandResult r =
      RunCommand(launcher + std::string(SPACEBYTE_BIN) + " bench --config " + TinyConfig() +
                     " --steps 1 --warmup 1 --set train.batch_size=2 --set train.threads=1" + sets,
                 /*with_stderr=*/false);
  EXPECT_EQ(r.status, 0) << r.output;
  if (r.status != 0) return nlohmann::json::object();
  // The last line that opens an object (the JSON line holds nested ones).
  const size_t line = r.output.rfind("\n{");
  return nlohmann::json::parse(r.output.substr(line == std::string::npos ? 0 : line + 1));
}

// Parameter values of the tiny preset's model.
int64_t TinyModelValues() {
  absl::StatusOr<proto::RunConfig> run = ReadRunConfig(TinyConfig());
  EXPECT_TRUE(run.ok()) << run.status();
  absl::StatusOr<ModelSpec> spec = ResolveModelConfig(run->model());
  EXPECT_TRUE(spec.ok()) << spec.status();
  int64_t values = 0;
  for (const torch::Tensor& p : MakeModel(*spec)->parameters()) values += p.numel();
  return values;
}

TEST(BenchProgramTest, PrintsThroughputMemoryAndOptimizerState) {
  const nlohmann::json j = Bench("", " --eval");
  ASSERT_FALSE(j.empty());
  EXPECT_GT(j.at("bytes_per_s").get<double>(), 0);
  // --eval: evaluation's forward passes, in each precision the build has.
  EXPECT_GT(j.at("eval_bytes_per_s").at("fp32").get<double>(), 0) << j.dump();
  EXPECT_EQ(j.at("eval_bytes_per_s").contains("bf16"), TORCH_VERSION_MAJOR >= 2) << j.dump();
  EXPECT_FALSE(j.at("shard_optimizer").get<bool>());
  ASSERT_EQ(j.at("peak_rss_mb_per_rank").size(), 1u);
  const double want_mb = static_cast<double>(2 * 4 * TinyModelValues() + 8) / (1 << 20);
  ASSERT_EQ(j.at("optimizer_state_mb_per_rank").size(), 1u);
  EXPECT_NEAR(j.at("optimizer_state_mb_per_rank")[0].get<double>(), want_mb, 1e-9 * want_mb);
}

TEST(BenchProgramTest, ShardedOptimizerHalvesTheStateOnTwoRanks) {
  const nlohmann::json j = Bench(std::string(SPACEBYTE_MPIEXEC) +
                                     " --allow-run-as-root --oversubscribe -np 2 ",
                                 " --set parallel.shard_optimizer=true");
  ASSERT_FALSE(j.empty());
  EXPECT_TRUE(j.at("shard_optimizer").get<bool>());
  const double values = static_cast<double>(TinyModelValues());
  ASSERT_EQ(j.at("optimizer_state_mb_per_rank").size(), 2u);
  for (const auto& mb : j.at("optimizer_state_mb_per_rank")) {
    // Half the moments, give or take one padded element per bucket per moment.
    const double bytes = mb.get<double>() * (1 << 20) - 8;
    EXPECT_NEAR(bytes, 2 * 4 * values / 2, 2 * 4 * 16) << j.dump();
  }
}

// --trace profiles one more step: the largest operators in the JSON line
// and each rank's events, the step's phases among them, in DIR.
TEST(BenchProgramTest, TraceWritesTheStepsOperatorsAndPhases) {
  const std::string dir = testing::TempDir() + "/bench_trace";
  std::filesystem::remove_all(dir);
  const nlohmann::json j = Bench("", " --trace " + dir);
  ASSERT_FALSE(j.empty());
  EXPECT_EQ(j.at("top_ops_basis"), "cpu operators (self time)");
  ASSERT_FALSE(j.at("top_ops").empty());
  double listed = 0;
  for (const auto& op : j.at("top_ops")) listed += op.at("ms").get<double>();
  EXPECT_GT(listed, 0);
  EXPECT_LE(listed, j.at("top_ops_total_ms").get<double>() * (1 + 1e-9));
  EXPECT_EQ(j.at("trace"), dir + "/rank0_trace.json");
  std::ifstream in(dir + "/rank0_trace.json");
  const nlohmann::json trace = nlohmann::json::parse(in);
  std::set<std::string> phases;
  for (const auto& e : trace.at("traceEvents")) {
    if (e.at("cat") == "phase") phases.insert(e.at("name").get<std::string>());
  }
  for (const char* phase : {"forward", "backward", "optimizer"}) {
    EXPECT_EQ(phases.count(phase), 1u) << phase;
  }
}

// A trace that cannot be written costs the trace, not the figures taken
// before it (a GPU node's minutes); a --trace directory that cannot be made
// fails before any step is timed.
TEST(BenchProgramTest, UnwritableTraceKeepsTheFiguresAndAnUnmakableDirFailsFirst) {
  const std::string dir = testing::TempDir() + "/bench_trace_blocked";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir + "/rank0_trace.json");  // the file's path is taken
  const nlohmann::json j = Bench("", " --trace " + dir);
  ASSERT_FALSE(j.empty());
  EXPECT_GT(j.at("bytes_per_s").get<double>(), 0);
  EXPECT_NE(j.at("trace_error").get<std::string>().find("rank0_trace.json"), std::string::npos)
      << j.dump();
  EXPECT_FALSE(j.contains("trace"));

  const std::string file = testing::TempDir() + "/bench_trace_file";
  std::ofstream(file) << "x";
  const CommandResult r = RunCommand(std::string(SPACEBYTE_BIN) + " bench --config " +
                                     TinyConfig() + " --steps 1 --trace " + file + "/sub");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("--trace " + file + "/sub"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("bytes_per_s"), std::string::npos) << r.output;
}

// Counts that measure nothing are refused rather than printed as a figure
// of zero (bench --steps 0 printed bytes_per_s 0); so are eval's.
TEST(BenchProgramTest, CountsOutOfRangeAreRefused) {
  const std::string bin = SPACEBYTE_BIN;
  for (const auto& [flags, error] :
       {std::pair{" bench --config " + TinyConfig() + " --steps 0", "--steps must be at least 1"},
        std::pair{" bench --config " + TinyConfig() + " --warmup -1", "--warmup at least 0"},
        std::pair{std::string(" eval --checkpoint x --bytes y --max_windows -1"),
                  "--max_windows must be 0 (all) or more"},
        std::pair{std::string(" eval --checkpoint x --bytes y --batch_size 0"),
                  "--batch_size at least 1"},
        std::pair{std::string(" eval --checkpoint x --bytes y --precision fp16"),
                  "--precision = 'fp16' is not one of bf16 | fp32"},
        TORCH_VERSION_MAJOR >= 2
            ? std::pair{std::string(" eval --checkpoint x --bytes y --device gpu"),
                        "--device must be cpu or cuda"}
            : std::pair{std::string(" eval --checkpoint x --bytes y --precision bf16"),
                        "--precision = bf16 needs LibTorch >= 2"}}) {
    const CommandResult r = RunCommand(bin + flags);
    EXPECT_EQ(r.status, 1) << flags << "\n" << r.output;
    EXPECT_NE(r.output.find(error), std::string::npos) << flags << "\n" << r.output;
  }
}

// A one-process subcommand under mpirun would run once per rank, printing
// twice or racing on its output: one line, from rank 0, and exit 1.
TEST(BenchProgramTest, OneProcessSubcommandsRefuseSeveralRanks) {
  const std::string mpirun =
      std::string(SPACEBYTE_MPIEXEC) + " --allow-run-as-root --oversubscribe -np 2 ";
  for (const char* command : {"report /nonexistent", "info --config /nonexistent",
                              "eval --checkpoint x --bytes y"}) {
    const CommandResult r = RunCommand(mpirun + SPACEBYTE_BIN + " " + command);
    EXPECT_NE(r.status, 0) << command << "\n" << r.output;
    size_t count = 0;
    for (size_t at = r.output.find("runs as one process"); at != std::string::npos;
         at = r.output.find("runs as one process", at + 1)) {
      ++count;
    }
    EXPECT_EQ(count, 1u) << command << "\n" << r.output;
  }
}

}  // namespace
}  // namespace spacebyte::trainer
