// Every preset in launch/configs parses and resolves to a model whose size
// and cost are sane; the paper grid's budgets are set.

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "train/config_file.h"
#include "model/model_spec.h"

namespace spacebyte::trainer {
namespace {

const std::filesystem::path kConfigs =
    std::filesystem::path(SPACEBYTE_TESTDATA) / ".." / ".." / "launch" / "configs";

TEST(PresetsTest, EveryPresetParsesAndResolves) {
  int presets = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kConfigs)) {
    if (entry.path().extension() != ".textproto") continue;
    ++presets;
    const std::string name = entry.path().stem().string();
    absl::StatusOr<proto::RunConfig> config = LoadRunConfig(entry.path().string(), {});
    ASSERT_TRUE(config.ok()) << config.status();
    absl::StatusOr<ModelSpec> spec = ResolveModelConfig(config->model());
    ASSERT_TRUE(spec.ok()) << name << ": " << spec.status();
    EXPECT_GT(config->train().batch_size(), 0) << name;
    EXPECT_GT(TrainingFlopsPerByte(*spec), 0) << name;
    if (name.find("1e1") != std::string::npos) {
      const double budget = name.find("1e18") != std::string::npos ? 1e18 : 1e19;
      EXPECT_EQ(config->train().budget_flops(), budget) << name;
    }
  }
  EXPECT_GE(presets, 8);
}

TEST(PresetsTest, LargestModelHasThePaperShape) {
  absl::StatusOr<proto::RunConfig> config =
      LoadRunConfig((kConfigs / "spacebyte_793m_184m.textproto").string(), {});
  ASSERT_TRUE(config.ok()) << config.status();
  absl::StatusOr<ModelSpec> spec = ResolveModelConfig(config->model());
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->context_size, 8192);
  EXPECT_EQ(spec->global_context_size, 1344);
  EXPECT_EQ(spec->n_layers, 28);
  EXPECT_EQ(spec->n_local_layers, 26);
  EXPECT_TRUE(spec->rope);
  EXPECT_EQ(config->train().batch_size(), 64);
}

}  // namespace
}  // namespace spacebyte::trainer
