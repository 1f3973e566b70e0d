// `spacebyte bench` prints its figures as one JSON line, the optimizer
// state each rank holds among them: after the warm-up steps, both AdamW
// moments of every parameter (4 bytes each) and one int64 step count per
// parameter tensor.

#include <cmath>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "model/byte_lm.h"
#include "tests/cli/run_command.h"
#include "train/config_file.h"

namespace spacebyte::trainer {
namespace {

TEST(BenchProgramTest, PrintsThroughputMemoryAndOptimizerState) {
  const std::string config = std::string(SPACEBYTE_TESTDATA) + "/../../launch/configs/tiny.textproto";
  const CommandResult r = RunCommand(std::string(SPACEBYTE_BIN) + " bench --config " + config +
                                         " --steps 1 --warmup 1 --set train.batch_size=2"
                                         " --set train.threads=1",
                                     /*with_stderr=*/false);
  ASSERT_EQ(r.status, 0) << r.output;
  const nlohmann::json j = nlohmann::json::parse(r.output.substr(r.output.rfind('{')));
  EXPECT_GT(j.at("bytes_per_s").get<double>(), 0);
  ASSERT_EQ(j.at("peak_rss_mb_per_rank").size(), 1u);

  absl::StatusOr<proto::RunConfig> run = ReadRunConfig(config);
  ASSERT_TRUE(run.ok()) << run.status();
  absl::StatusOr<ModelSpec> spec = ResolveModelConfig(run->model());
  ASSERT_TRUE(spec.ok()) << spec.status();
  std::shared_ptr<ByteLm> model = MakeModel(*spec);
  int64_t values = 0, tensors = 0;
  for (const torch::Tensor& p : model->parameters()) {
    values += p.numel();
    ++tensors;
  }
  const double want_mb = static_cast<double>(2 * 4 * values + 8 * tensors) / (1 << 20);
  ASSERT_EQ(j.at("optimizer_state_mb_per_rank").size(), 1u);
  EXPECT_NEAR(j.at("optimizer_state_mb_per_rank")[0].get<double>(), want_mb, 1e-9 * want_mb);
}

}  // namespace
}  // namespace spacebyte::trainer
