// Run configs: text format errors name file and line; --set overrides; model
// validation names the field.

#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "train/config_file.h"
#include "model/model_spec.h"

namespace spacebyte::trainer {
namespace {

std::string WriteConfig(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

constexpr char kTiny[] = R"pb(
  model { d_model: 64 context_size: 64 n_layers: 2 n_local_layers: 2 d_key: 16 }
  train { steps: 10 batch_size: 4 }
)pb";

TEST(ConfigFileTest, ParsesAndAppliesOverrides) {
  absl::StatusOr<proto::RunConfig> c = LoadRunConfig(
      WriteConfig("ok.textproto", kTiny),
      {"model.d_model=128", "model.kind=transformer", "train.lr=0.5", "data.path=/x y"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->model().d_model(), 128);
  EXPECT_EQ(c->model().kind(), "transformer");
  EXPECT_DOUBLE_EQ(c->train().lr(), 0.5);
  EXPECT_EQ(c->data().path(), "/x y");
}

TEST(ConfigFileTest, UnknownFieldNamesFileAndLine) {
  const std::string path = WriteConfig("bad.textproto", "model {\n  d_modle: 3\n}\n");
  const absl::Status s = ReadRunConfig(path).status();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(path + ":2:"), std::string::npos) << s;
  EXPECT_NE(s.message().find("d_modle"), std::string::npos) << s;
}

TEST(ConfigFileTest, BadOverridesAreExplained) {
  proto::RunConfig c;
  EXPECT_NE(ApplyOverride("model.nope=1", &c).message().find("no field 'nope'"),
            std::string::npos);
  EXPECT_NE(ApplyOverride("model.d_model=abc", &c).message().find("not a valid"),
            std::string::npos);
  EXPECT_NE(ApplyOverride("model", &c).message().find("path=value"), std::string::npos);
}

TEST(ModelSpecTest, DefaultsFollowTheSpec) {
  absl::StatusOr<proto::RunConfig> c = ReadRunConfig(WriteConfig("d.textproto", kTiny));
  ASSERT_TRUE(c.ok());
  absl::StatusOr<ModelSpec> s = ResolveModelConfig(c->model());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->d_local, 32);
  EXPECT_EQ(s->global_context_size, 10);
  EXPECT_EQ(s->n_initial_layers, 1);
  EXPECT_EQ(s->local_attention_window, 32);
}

TEST(ModelSpecTest, ImpossibleSizesNameTheField) {
  proto::ModelConfig m;
  m.set_d_model(100);
  m.set_context_size(64);
  m.set_n_layers(1);
  m.set_n_local_layers(2);
  const absl::Status s = ResolveModelConfig(m).status();
  EXPECT_NE(s.message().find("model.d_model (100) is not a multiple of model.d_key"),
            std::string::npos) << s;
  m.set_d_model(128);
  m.set_nonlinear("swish");
  EXPECT_NE(ResolveModelConfig(m).status().message().find("model.nonlinear"),
            std::string::npos);
}

TEST(ModelSpecTest, FlopCountFollowsTheSpec) {
  ModelSpec s;
  s.d_model = 64; s.d_local = 32; s.context_size = 64; s.global_context_size = 16;
  s.n_layers = 2; s.n_local_layers = 2; s.local_attention_window = 16;
  const double global = 16 * (4 * 64 * 64 + 2 * 64 * 16) + 16 * 8 * 64 * 64;
  const double local = 64 * (4 * 32 * 32 + 2 * 32 * 16) + 64 * 8 * 32 * 32;
  EXPECT_DOUBLE_EQ(MultiplyAddsPerSample(s), 2 * global + 2 * local + 64 * 32 * 256);
  EXPECT_DOUBLE_EQ(TrainingFlopsPerByte(s), 6 * MultiplyAddsPerSample(s) / 64);
  // A narrower feed-forward (d_ff_mult 2) costs L·4w² per block, not L·8w².
  const double at_four = MultiplyAddsPerSample(s);
  s.d_ff_mult = 2;
  EXPECT_DOUBLE_EQ(at_four - MultiplyAddsPerSample(s),
                   2 * 16 * 4 * 64 * 64 + 2 * 64 * 4 * 32 * 32);
}

}  // namespace
}  // namespace spacebyte::trainer
