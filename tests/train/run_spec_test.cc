// The resolved run: budgets in bytes and FLOPs become step counts, batch
// sizes are checked against the world, and errors name the field.

#include <cmath>
#include <fstream>
#include <limits>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/version.h>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/text_format.h"
#include "train/run_spec.h"

namespace spacebyte::trainer {
namespace {

// Tiny SpaceByte: D 64, d 32, T 64, TG 16, W = d = 32, 2 global and 2 local
// blocks. Multiply-adds per sample (docs/model.md's FLOP count):
//   global 2 * (16 (4*64^2 + 2*64*16) + 16*8*64^2) = 1638400
//   local  2 * (64 (4*32^2 + 2*32*32) + 64*8*32^2) = 1835008
//   logits 64*32*256                                =  524288
// = 3997696; training FLOPs per step of 4 samples = 6 * 4 * 3997696
// = 95944704.

proto::RunConfig Config(const std::string& train) {
  proto::RunConfig c;
  const std::string text =
      "model { d_model: 64 d_local: 32 context_size: 64 global_context_size: 16 "
      "n_layers: 2 n_local_layers: 2 d_key: 16 } train { batch_size: 4 " + train + " }";
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &c)) << text;
  return c;
}

int64_t Steps(const std::string& train) {
  absl::StatusOr<RunSpec> spec = ResolveRunConfig(Config(train), 1);
  EXPECT_TRUE(spec.ok()) << spec.status();
  return spec.ok() ? spec->train.steps : -1;
}

std::string Error(const std::string& train, int world = 1) {
  absl::StatusOr<RunSpec> spec = ResolveRunConfig(Config(train), world);
  return spec.ok() ? "no error" : std::string(spec.status().message());
}

TEST(RunSpecTest, ByteBudgetRoundsUpToWholeSteps) {
  EXPECT_EQ(Steps("budget_bytes: 2560"), 10);  // 256 bytes per step
  EXPECT_EQ(Steps("budget_bytes: 2561"), 11);
}

TEST(RunSpecTest, FlopBudgetUsesTheSpecsCostAccounting) {
  EXPECT_EQ(Steps("budget_flops: 1e9"), 11);  // 1e9 / 95944704 = 10.42
  EXPECT_EQ(Steps("budget_flops: 671612928"), 7);  // exactly 7 steps
  EXPECT_EQ(Steps("budget_flops: 671612929"), 8);
}

TEST(RunSpecTest, DefaultsFollowTheSpec) {
  absl::StatusOr<RunSpec> spec = ResolveRunConfig(Config("steps: 5"), 2);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_DOUBLE_EQ(spec->train.lr, 0.01);  // 0.005 * sqrt(4)
  EXPECT_EQ(spec->parallel.dp, 2);
  EXPECT_EQ(spec->train.micro_batch_size, 2);
  EXPECT_EQ(spec->train.accumulation, 1);
  absl::StatusOr<RunSpec> micro = ResolveRunConfig(Config("steps: 5 micro_batch_size: 1"), 2);
  ASSERT_TRUE(micro.ok()) << micro.status();
  EXPECT_EQ(micro->train.accumulation, 2);
}

TEST(RunSpecTest, ImpossibleSizesNameTheField) {
  EXPECT_EQ(Error("steps: 5 micro_batch_size: 3"),
            "run config: train.micro_batch_size = 3 must divide the per-rank batch 4 "
            "(train.batch_size / dp)");
  EXPECT_EQ(Error("steps: 5", 3).find("run config: train.batch_size = 4 is not divisible by "
                                      "the data-parallel size 3"),
            0u);
  EXPECT_NE(Error("steps: 5 budget_bytes: 100").find("exactly one of"), std::string::npos);
  EXPECT_NE(Error("").find("exactly one of"), std::string::npos);
}

TEST(RunSpecTest, CollectiveTimeoutIsASpanOfSecondsOrOff) {
  for (double bad : {-1.0, std::nan(""), std::numeric_limits<double>::infinity()}) {
    proto::RunConfig c = Config("steps: 5");
    c.mutable_parallel()->set_collective_timeout_s(bad);
    absl::StatusOr<RunSpec> spec = ResolveRunConfig(c, 1);
    ASSERT_FALSE(spec.ok()) << bad;
    EXPECT_EQ(spec.status().message(),
              "run config: parallel.collective_timeout_s must be a finite number >= 0 (0: no "
              "limit)");
  }
  proto::RunConfig off = Config("steps: 5");
  off.mutable_parallel()->set_collective_timeout_s(0);
  absl::StatusOr<RunSpec> spec = ResolveRunConfig(off, 1);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->parallel.collective_timeout_s, 0);
}

// parallel.backend's documented default "auto" resolves by the device, and
// train.precision defaults to bf16 on CUDA only.
TEST(RunSpecTest, BackendAndPrecisionFollowTheDevice) {
  absl::StatusOr<RunSpec> cpu = ResolveRunConfig(Config("steps: 5"), 1);
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  EXPECT_EQ(cpu->parallel.backend, "mpi");
  EXPECT_FALSE(cpu->train.bf16);
  absl::StatusOr<RunSpec> cuda = ResolveRunConfig(Config("steps: 5 device: \"cuda\""), 1);
  if (TORCH_VERSION_MAJOR >= 2) {
    ASSERT_TRUE(cuda.ok()) << cuda.status();
    EXPECT_EQ(cuda->parallel.backend, "nccl");
    EXPECT_TRUE(cuda->train.bf16);
  } else {
    EXPECT_NE(std::string(cuda.status().message()).find("train.device = cuda needs a CUDA "
                                                          "LibTorch >= 2"),
              std::string::npos)
        << "the device the user chose, not the precision it implied";
    absl::StatusOr<RunSpec> bf16 = ResolveRunConfig(Config("steps: 5 precision: \"bf16\""), 1);
    EXPECT_NE(std::string(bf16.status().message()).find("train.precision = bf16 needs LibTorch"),
              std::string::npos);
  }
  absl::StatusOr<RunSpec> fp32 =
      ResolveRunConfig(Config("steps: 5 device: \"cuda\" precision: \"fp32\""), 1);
  ASSERT_TRUE(fp32.ok()) << fp32.status();
  EXPECT_EQ(fp32->parallel.backend, "nccl");
  EXPECT_FALSE(fp32->train.bf16);

  proto::RunConfig mpi_on_cuda = Config("steps: 5 device: \"cuda\" precision: \"fp32\"");
  mpi_on_cuda.mutable_parallel()->set_backend("mpi");
  EXPECT_EQ(ResolveRunConfig(mpi_on_cuda, 1).status().message(),
            "run config: parallel.backend = mpi cannot move cuda tensors; use nccl or auto");
  EXPECT_EQ(Error("steps: 5 precision: \"fp16\""),
            "run config: train.precision = 'fp16' is not one of bf16 | fp32");
}


// A default that proto/config.proto's comments give as a literal, "[0.9]"
// or "[0 = only at the end]", and the message and field it belongs to.
struct DocumentedDefault {
  std::string message, field;
  double value;
};

std::vector<DocumentedDefault> DocumentedDefaults() {
  std::ifstream in(std::string(SPACEBYTE_SOURCE_DIR) + "/proto/config.proto");
  const std::regex message_re(R"(^message (\w+) \{)");
  const std::regex comment_re(R"(^\s*//)");
  const std::regex field_re(R"(^\s+(?:optional )?\w+ (\w+) = \d+;(.*)$)");
  const std::regex default_re(R"(\[(-?[0-9][0-9.e+-]*|true|false)(?: =[^\]]*)?\])");
  std::vector<DocumentedDefault> out;
  std::string message, comment;
  std::smatch m;
  for (std::string line; std::getline(in, line);) {
    if (std::regex_search(line, m, message_re)) {
      message = m[1];
      comment.clear();
    } else if (std::regex_search(line, comment_re)) {
      comment += line;
    } else if (std::regex_search(line, m, field_re)) {
      const std::string field = m[1], text = comment + std::string(m[2]);
      comment.clear();
      if (!std::regex_search(text, m, default_re)) continue;
      const std::string v = m[1];
      out.push_back({message, field, v == "true" ? 1.0 : v == "false" ? 0.0 : std::stod(v)});
    } else {
      comment.clear();
    }
  }
  return out;
}

double NumberOf(const google::protobuf::Message& m, const google::protobuf::FieldDescriptor* f) {
  using google::protobuf::FieldDescriptor;
  const auto* r = m.GetReflection();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_DOUBLE: return r->GetDouble(m, f);
    case FieldDescriptor::CPPTYPE_INT32: return r->GetInt32(m, f);
    case FieldDescriptor::CPPTYPE_INT64: return static_cast<double>(r->GetInt64(m, f));
    case FieldDescriptor::CPPTYPE_BOOL: return r->GetBool(m, f);
    default: ADD_FAILURE() << f->full_name() << " has a numeric default but is not a number";
  }
  return 0;
}

// Documented defaults are the real ones: a config that sets none of those
// fields resolves to exactly what the comments say (the resolved config,
// written to every run directory, spells each one out).
TEST(RunSpecTest, DocumentedDefaultsAreTheResolvedOnes) {
  proto::RunConfig config;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      "model { d_model: 256 context_size: 96 n_layers: 2 n_local_layers: 2 "
      "patch_method: 'multilingual' } train { batch_size: 4 steps: 5 } "
      "data { mixing: 'unimax' }",
      &config));
  absl::StatusOr<RunSpec> spec = ResolveRunConfig(config, 1);
  ASSERT_TRUE(spec.ok()) << spec.status();
  const proto::RunConfig resolved = ResolvedConfig(config, *spec);

  const std::vector<DocumentedDefault> defaults = DocumentedDefaults();
  EXPECT_GE(defaults.size(), 19u) << "config.proto's comments no longer parse";
  const auto* run = proto::RunConfig::descriptor();
  for (const DocumentedDefault& d : defaults) {
    const google::protobuf::FieldDescriptor* part = nullptr;
    for (int i = 0; i < run->field_count(); ++i) {
      if (run->field(i)->message_type()->name() == d.message) part = run->field(i);
    }
    ASSERT_NE(part, nullptr) << d.message;
    const google::protobuf::Message& sub = resolved.GetReflection()->GetMessage(resolved, part);
    const google::protobuf::FieldDescriptor* f = sub.GetDescriptor()->FindFieldByName(d.field);
    ASSERT_NE(f, nullptr) << d.field;
    const std::string name = part->name() + "." + d.field;
    EXPECT_TRUE(!f->has_presence() || sub.GetReflection()->HasField(sub, f))
        << name << " is not written to the resolved config";
    EXPECT_DOUBLE_EQ(NumberOf(sub, f), d.value) << name << " documented as " << d.value;
  }
}

}  // namespace
}  // namespace spacebyte::trainer
