// Under tp = 2 the global blocks hold shards, but each linear weight still
// trains at lr * d_in^-0.5 of the full, unsplit layer (run on 2 ranks).

#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>

#include <gtest/gtest.h>

#include "tests/parallel/mpi_gtest_main.h"
#include "train/training_session.h"

namespace spacebyte::trainer {
namespace {

std::map<std::string, double> GroupRates(TrainingSession& s) {
  std::map<std::string, double> rates;
  for (const auto& p : s.model->named_parameters()) {
    rates[p.key()] = s.optimizer->LearningRateOf(p.key());
  }
  return rates;
}

TEST(TrainingSessionTest, ShardedLinearsKeepTheFullFanInRate) {
  const parallel::MpiEnv& env = test_support::TestMpiEnv();
  ASSERT_EQ(env.world_size(), 2);
  const std::string config = ::testing::TempDir() + "/session_tp_rank" +
                             std::to_string(env.world_rank()) + ".textproto";
  std::ofstream(config) << "model { d_model: 64 d_local: 32 context_size: 64 "
                           "global_context_size: 16 n_layers: 1 n_local_layers: 2 d_key: 16 }\n"
                           "parallel { tp: 2 } train { steps: 1 batch_size: 2 lr: 0.01 }\n";
  absl::StatusOr<std::unique_ptr<TrainingSession>> s = StartSession(config, {}, env);
  ASSERT_TRUE(s.ok()) << s.status();
  std::map<std::string, torch::Tensor> params;
  for (const auto& p : (*s)->model->named_parameters()) params[p.key()] = p.value();
  const std::map<std::string, double> rates = GroupRates(**s);

  // Row-parallel: this rank holds half the input columns.
  EXPECT_EQ(params.at("global_blocks.0.feedforward.linear_2.weight").size(1), 128);
  EXPECT_DOUBLE_EQ(rates.at("global_blocks.0.feedforward.linear_2.weight"), 0.01 / 16);
  EXPECT_EQ(params.at("global_blocks.0.attention.linear.weight").size(1), 32);
  EXPECT_DOUBLE_EQ(rates.at("global_blocks.0.attention.linear.weight"), 0.01 / 8);
  // Column-parallel: half the rows, the full input.
  EXPECT_EQ(params.at("global_blocks.0.attention.QKV_linear.weight").size(0), 96);
  EXPECT_DOUBLE_EQ(rates.at("global_blocks.0.attention.QKV_linear.weight"), 0.01 / 8);
  EXPECT_DOUBLE_EQ(rates.at("global_blocks.0.feedforward.linear_1.weight"), 0.01 / 8);
  // Replicated local blocks (d 32) and the plain-rate parameters.
  EXPECT_DOUBLE_EQ(rates.at("initial_blocks.0.feedforward.linear_2.weight"), 0.01 / std::sqrt(128.0));
  EXPECT_DOUBLE_EQ(rates.at("token_embedding.weight"), 0.01);
  EXPECT_DOUBLE_EQ(rates.at("global_blocks.0.attention.Q_layer_norm.scale"), 0.01);
  EXPECT_DOUBLE_EQ(rates.at("logits.logits_linear.weight"), 0.01 / std::sqrt(32.0));
}

}  // namespace
}  // namespace spacebyte::trainer
