// The model reproduces forward passes of the public PyTorch reference, both
// in-process and through `spacebyte convert` + `spacebyte eval`.

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include <caffe2/serialize/in_memory_adapter.h>
#include <caffe2/serialize/inline_container.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>
#include <torch/version.h>

#include "tests/cli/run_command.h"
#include "model/byte_lm.h"
#include "checkpoint/reference_checkpoint.h"

namespace spacebyte::trainer {
namespace {

std::string GoldenPath(const std::string& name) {
  return std::string(SPACEBYTE_TESTDATA) + "/golden/" + name + ".pt";
}

std::string Checked(const std::string& command) {
  const CommandResult r = RunCommand(command, /*with_stderr=*/false);
  EXPECT_EQ(r.status, 0) << command << "\n" << r.output;
  return r.output;
}

class GoldenTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    absl::StatusOr<ReferenceCheckpoint> ref = ReadReferenceCheckpoint(GoldenPath(GetParam()));
    ASSERT_TRUE(ref.ok()) << ref.status();
    ref_ = std::move(*ref);
    model_ = MakeModel(ref_.spec);
    ASSERT_TRUE(LoadNamedTensors(*model_, ref_.state_dict, GetParam()).ok());
    model_->eval();
  }
  torch::Tensor Golden(const char* key) { return ref_.contents.at(key).toTensor(); }

  ReferenceCheckpoint ref_;
  std::shared_ptr<ByteLm> model_;
};

TEST_P(GoldenTest, ForwardMatchesReference) {
  torch::NoGradGuard no_grad;
  const ModelOutput out = model_->Forward(Golden("tokens"));
  EXPECT_LT((out.logits - Golden("logits")).abs().max().item<double>(), 1e-4);
  const double loss = ComputeLoss(out, Golden("targets")).loss.item<double>();
  const double want = Golden("loss").item<double>();
  EXPECT_NEAR(loss, want, 1e-5 * want);
  if (ref_.spec.kind == ModelKind::kSpaceByte) {
    EXPECT_TRUE(torch::equal(out.global_ts, Golden("global_ts")));
    EXPECT_TRUE(torch::equal(out.global_T, Golden("global_T")));
    // The overflow rule gives exactly the reference's ignored targets.
    EXPECT_TRUE(torch::equal(out.ignored, Golden("targets").eq(-1)));
  }
}

// Rebuilds the raw bytes behind each golden row: where the reference ignored a
// target, the next token still holds the byte (the last one never matters).
std::string RawBytes(const torch::Tensor& tokens, const torch::Tensor& targets) {
  const torch::Tensor next = torch::constant_pad_nd(tokens.narrow(1, 1, tokens.size(1) - 1),
                                                    {0, 1}, 0);
  const torch::Tensor bytes =
      torch::where(targets.eq(-1), next, targets).to(torch::kUInt8).contiguous();
  return std::string(static_cast<const char*>(bytes.data_ptr()), bytes.numel());
}

TEST_P(GoldenTest, ConvertThenEvalGivesReferenceLoss) {
  ASSERT_TRUE(torch::all(Golden("tokens").select(1, 0).eq(kBos)).item<bool>());
  const std::string dir = ::testing::TempDir() + "/golden_" + GetParam();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string bytes_path = dir + "/bytes.bin";
  std::ofstream(bytes_path, std::ios::binary) << RawBytes(Golden("tokens"), Golden("targets"));

  const std::string bin = SPACEBYTE_BIN;
  Checked(bin + " convert --from_reference " + GoldenPath(GetParam()) + " --out " + dir +
             "/run");
  const nlohmann::json result = nlohmann::json::parse(
      Checked(bin + " eval --checkpoint " + dir + "/run --bytes " + bytes_path));
  const double want = Golden("loss").item<double>();
  EXPECT_NEAR(result["loss"].get<double>(), want, 1e-5 * want);
  EXPECT_EQ(result["windows"].get<int64_t>(), Golden("tokens").size(0));
  EXPECT_NEAR(result["bits_per_byte"].get<double>(), want / std::log(2.0), 1e-4);
  EXPECT_EQ(result["precision"], "fp32");
  if (TORCH_VERSION_MAJOR >= 2) {
    // Under bf16 autocast, as the reference evaluates on a GPU: near, not equal.
    const nlohmann::json bf16 = nlohmann::json::parse(Checked(
        bin + " eval --checkpoint " + dir + "/run --bytes " + bytes_path + " --precision bf16"));
    EXPECT_EQ(bf16["precision"], "bf16");
    EXPECT_NE(bf16["loss"].get<double>(), result["loss"].get<double>());
    EXPECT_NEAR(bf16["loss"].get<double>(), want, 0.01 * want);
  }

  // The same windows at the head of a 64 GiB file (sparse: no disk used),
  // in batches that do not divide them: only what --max_windows scores is
  // read.
  const int64_t rows = Golden("tokens").size(0);
  std::filesystem::resize_file(bytes_path, int64_t{64} << 30);
  const nlohmann::json head = nlohmann::json::parse(
      Checked(bin + " eval --checkpoint " + dir + "/run --bytes " + bytes_path +
              " --batch_size 3 --max_windows " + std::to_string(rows)));
  EXPECT_NEAR(head["loss"].get<double>(), want, 1e-5 * want);
  EXPECT_EQ(head["windows"].get<int64_t>(), rows);
  std::filesystem::remove(bytes_path);
}

TEST_P(GoldenTest, ToReferenceRoundTrip) {
  const std::string dir = ::testing::TempDir() + "/roundtrip_" + GetParam();
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/ckpt.pt";
  ASSERT_TRUE(WriteReferenceCheckpoint(path, *model_).ok());
  absl::StatusOr<ReferenceCheckpoint> back = ReadReferenceCheckpoint(path);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->state_dict.size(), ref_.state_dict.size());
  for (const auto& [name, tensor] : back->state_dict) {
    const auto& want = ref_.contents.at("state_dict").toGenericDict().at(name).toTensor();
    EXPECT_TRUE(torch::equal(tensor, want)) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Reference, GoldenTest,
                         ::testing::Values("spacebyte_tiny", "spacebyte_tiny_rope",
                                           "transformer_tiny"));

TEST(ReferenceCheckpointTest, UnsupportedOptionIsNamed) {
  absl::StatusOr<ReferenceCheckpoint> ref = ReadReferenceCheckpoint(GoldenPath("spacebyte_tiny"));
  ASSERT_TRUE(ref.ok());
  ref->contents.at("model_config").toGenericDict().insert_or_assign("tie_embedding", true);
  const std::string path = ::testing::TempDir() + "/tied.pt";
  const std::vector<char> bytes = torch::pickle_save(ref->contents);
  std::ofstream(path, std::ios::binary).write(bytes.data(), bytes.size());
  const absl::Status status = ReadReferenceCheckpoint(path).status();
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("tie_embedding"), std::string::npos) << status;
}

// `contents` as torch.save writes it on a GPU: every storage tagged
// "cuda:0". Rewrites the location string in the pickle of a CPU save.
void WriteAsSavedOnGpu(const c10::impl::GenericDict& contents, const std::string& path) {
  const std::vector<char> cpu = torch::pickle_save(contents);
  caffe2::serialize::PyTorchStreamReader reader(
      std::make_shared<caffe2::serialize::MemoryReadAdapter>(cpu.data(), cpu.size()));
  caffe2::serialize::PyTorchStreamWriter writer(path);
  for (const std::string& name : reader.getAllRecords()) {
    // The writer adds its own version and byte-order records.
    if (name == ".data/version" || name == "version" || name == "byteorder" ||
        name == ".data/serialization_id") {
      continue;
    }
    const auto [data, size] = reader.getRecord(name);
    std::string record(static_cast<const char*>(data.get()), size);
    if (name == "data.pkl") {
      // BINUNICODE "cpu" -> "cuda:0"; the pickle memoizes it, so once is all.
      const std::string from("X\x03\0\0\0cpu", 8), to("X\x06\0\0\0cuda:0", 11);
      const size_t at = record.find(from);
      ASSERT_NE(at, std::string::npos);
      record.replace(at, from.size(), to);
    }
    writer.writeRecord(name, record.data(), record.size());
  }
  writer.writeEndOfFile();
}

// The reference saves from the GPU it trained on. Reading that on a CPU
// (our default build, or a node without that GPU) is torch.load with
// map_location="cpu": every tensor lands on the CPU, equal to the original.
TEST(ReferenceCheckpointTest, GpuSavedCheckpointLoadsOnTheCpu) {
  absl::StatusOr<ReferenceCheckpoint> ref = ReadReferenceCheckpoint(GoldenPath("spacebyte_tiny"));
  ASSERT_TRUE(ref.ok());
  const std::string path = ::testing::TempDir() + "/saved_on_gpu.pt";
  WriteAsSavedOnGpu(ref->contents, path);
  absl::StatusOr<ReferenceCheckpoint> gpu = ReadReferenceCheckpoint(path);
  ASSERT_TRUE(gpu.ok()) << gpu.status();
  ASSERT_EQ(gpu->state_dict.size(), ref->state_dict.size());
  for (size_t i = 0; i < ref->state_dict.size(); ++i) {
    EXPECT_TRUE(gpu->state_dict[i].second.device().is_cpu());
    EXPECT_TRUE(torch::equal(gpu->state_dict[i].second, ref->state_dict[i].second));
  }
  const std::string out = ::testing::TempDir() + "/saved_on_gpu_run";
  std::filesystem::remove_all(out);
  Checked(std::string(SPACEBYTE_BIN) + " convert --from_reference " + path + " --out " + out);
}

// A hostile .pt can put a tensor's view past its stored bytes; LibTorch's
// unpickler sets the offset unchecked, and copying from it read other memory
// or crashed. The reader refuses such a tensor by name.
TEST(ReferenceCheckpointTest, TensorOutsideItsStoredDataIsRefused) {
  absl::StatusOr<ReferenceCheckpoint> ref = ReadReferenceCheckpoint(GoldenPath("spacebyte_tiny"));
  ASSERT_TRUE(ref.ok());
  auto state = ref->contents.at("state_dict").toGenericDict();
  const torch::Tensor original = state.at("token_embedding.weight").toTensor();
  for (const int64_t offset : {int64_t{1} << 24, int64_t{100}}) {
    torch::Tensor weight = original.clone();
    weight.unsafeGetTensorImpl()->set_storage_offset(offset);
    state.insert_or_assign("token_embedding.weight", weight);
    const std::string path = ::testing::TempDir() + "/outside.pt";
    const std::vector<char> bytes = torch::pickle_save(ref->contents);
    std::ofstream(path, std::ios::binary).write(bytes.data(), bytes.size());
    const absl::Status status = ReadReferenceCheckpoint(path).status();
    EXPECT_NE(status.message().find("token_embedding.weight lies outside its stored data"),
              std::string::npos)
        << offset << ": " << status;
  }
}

// Our own manifests may store int64 and uint8 tensors; as weights they are
// refused by name rather than converted into other numbers.
TEST(ReferenceCheckpointTest, IntegerWeightsAreRefusedByName) {
  absl::StatusOr<ReferenceCheckpoint> ref = ReadReferenceCheckpoint(GoldenPath("spacebyte_tiny"));
  ASSERT_TRUE(ref.ok());
  std::shared_ptr<ByteLm> model = MakeModel(ref->spec);
  for (auto& [name, tensor] : ref->state_dict) {
    if (name == "token_embedding.weight") tensor = tensor.to(torch::kLong);
  }
  const absl::Status status = LoadNamedTensors(*model, ref->state_dict, "ckpt");
  EXPECT_NE(status.message().find("ckpt: tensor token_embedding.weight is Long, not floating"),
            std::string::npos)
      << status;
}

// Fields of the wrong type, as a hand-made or foreign .pt file has them:
// each is one error naming the file, not an assertion inside LibTorch.
TEST(ReferenceCheckpointTest, WrongTypedFieldsAreNamed) {
  const std::vector<std::pair<const char*, std::function<void(c10::impl::GenericDict&)>>>
      kEdits = {
          {"model", [](auto& d) { d.insert_or_assign("model", 7); }},
          {"state_dict", [](auto& d) { d.insert_or_assign("state_dict", "weights"); }},
          {"d_model", [](auto& d) {
             d.at("model_config").toGenericDict().insert_or_assign("d_model", "wide");
           }},
          {"rope", [](auto& d) {
             d.at("model_config").toGenericDict().insert_or_assign("rope", 3);
           }},
          {"layer_norm", [](auto& d) {
             d.at("model_config").toGenericDict().insert_or_assign("layer_norm", 1.5);
           }},
          {"not a floating-point tensor", [](auto& d) {
             auto state = d.at("state_dict").toGenericDict();
             state.insert_or_assign(state.begin()->key(), torch::zeros({2}, torch::kLong));
           }},
      };
  for (const auto& [expected, edit] : kEdits) {
    absl::StatusOr<ReferenceCheckpoint> ref =
        ReadReferenceCheckpoint(GoldenPath("spacebyte_tiny"));
    ASSERT_TRUE(ref.ok());
    edit(ref->contents);
    const std::string path = ::testing::TempDir() + "/wrong_type.pt";
    const std::vector<char> bytes = torch::pickle_save(ref->contents);
    std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), bytes.size());
    const absl::Status status = ReadReferenceCheckpoint(path).status();
    EXPECT_FALSE(status.ok()) << expected;
    EXPECT_NE(status.message().find(path), std::string::npos) << status;
    EXPECT_NE(status.message().find(expected), std::string::npos) << status;
  }
}

TEST(ReferenceCheckpointTest, TruncatedFileIsReported) {
  std::ifstream in(GoldenPath("transformer_tiny"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  const std::string path = ::testing::TempDir() + "/truncated.pt";
  std::ofstream(path, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  const absl::Status status = ReadReferenceCheckpoint(path).status();
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find(path), std::string::npos) << status;
}

}  // namespace
}  // namespace spacebyte::trainer
