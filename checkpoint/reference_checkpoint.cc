#include "checkpoint/reference_checkpoint.h"

#include <caffe2/serialize/in_memory_adapter.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/import_read.h>
#include <torch/csrc/jit/serialization/storage_context.h>

#include <fstream>
#include <map>
#include <memory>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "data/file_read.h"

namespace spacebyte::trainer {
namespace {

using c10::IValue;

absl::Status Unsupported(const std::string& path, const std::string& option,
                         const std::string& value) {
  return absl::InvalidArgumentError(absl::StrCat(
      path, ": reference option ", option, " = ", value, " is not supported"));
}

std::string Show(const IValue& v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

// Maps the reference's model_config dict onto our proto names.
absl::StatusOr<ModelSpec> SpecFromReference(const std::string& path,
                                            const std::string& model_class,
                                            const c10::impl::GenericDict& config) {
  std::map<std::string, IValue> c;
  for (const auto& kv : config) {
    if (!kv.key().isString()) return Unsupported(path, "model_config key", Show(kv.key()));
    c[kv.key().toStringRef()] = kv.value();
  }
  auto is = [&](const char* key) { return c.count(key) && !c[key].isNone(); };

  // Options that change what the model computes and that we do not build.
  const std::pair<const char*, std::string> kMustBe[] = {
      {"vocab_size", "256"}, {"BOS", "255"}, {"tokenizer", "None"},
      {"tie_embedding", "False"}, {"qk_layer_norm", "True"},
      {"position_encoding", "True"}, {"attention_groups", "None"},
      {"sparse_attention", "None"}};
  for (const auto& [key, want] : kMustBe) {
    if (c.count(key) && Show(c[key]) != want) return Unsupported(path, key, Show(c[key]));
  }
  proto::ModelConfig m;
  if (model_class == "SpaceByte") {
    m.set_kind("spacebyte");
  } else if (model_class == "Transformer") {
    m.set_kind("transformer");
  } else {
    return Unsupported(path, "model", model_class);
  }
  const std::pair<const char*, void (proto::ModelConfig::*)(int32_t)> kInts[] = {
      {"d_model", &proto::ModelConfig::set_d_model},
      {"context_size", &proto::ModelConfig::set_context_size},
      {"n_layers", &proto::ModelConfig::set_n_layers},
      {"d_key", &proto::ModelConfig::set_d_key},
      {"d_ff_mult", &proto::ModelConfig::set_d_ff_mult},
      {"d_local", &proto::ModelConfig::set_d_local},
      {"global_context_size", &proto::ModelConfig::set_global_context_size},
      {"n_local_layers", &proto::ModelConfig::set_n_local_layers},
      {"n_initial_layers", &proto::ModelConfig::set_n_initial_layers},
      {"local_attention_window", &proto::ModelConfig::set_local_attention_window},
      {"attention_window", &proto::ModelConfig::set_attention_window}};
  for (const auto& [key, setter] : kInts) {
    if (!is(key)) continue;
    if (!c[key].isInt() || c[key].toInt() < 0 || c[key].toInt() > (1 << 30)) {
      return Unsupported(path, key, Show(c[key]));
    }
    (m.*setter)(static_cast<int32_t>(c[key].toInt()));
  }
  if (is("rope")) {
    if (!c["rope"].isBool()) return Unsupported(path, "rope", Show(c["rope"]));
    m.set_rope(c["rope"].toBool());
  }
  const std::pair<const char*, void (proto::ModelConfig::*)(const std::string&)> kStrings[] = {
      {"nonlinear", &proto::ModelConfig::set_nonlinear},
      {"layer_norm", &proto::ModelConfig::set_layer_norm},
      {"patch_method", &proto::ModelConfig::set_patch_method}};
  for (const auto& [key, setter] : kStrings) {
    if (!is(key)) continue;
    if (!c[key].isString()) return Unsupported(path, key, Show(c[key]));
    (m.*setter)(c[key].toStringRef());
  }
  absl::StatusOr<ModelSpec> spec = ResolveModelConfig(m);
  if (!spec.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", spec.status().message()));
  return spec;
}

// torch.save's zip archive, every storage on the CPU. torch::pickle_load puts
// each where its location tag says, and the reference saves from the GPU it
// trained on ("cuda:0"): a CPU build, or a node without that GPU, could not
// read it at all. This is torch.load(map_location="cpu").
//
// Each storage comes from its record at the record's real size: the
// unpickler would size it by the element count the pickle states, and a
// larger count would read past the record.
IValue LoadOnCpu(const std::vector<char>& bytes) {
  caffe2::serialize::PyTorchStreamReader reader(
      std::make_shared<caffe2::serialize::MemoryReadAdapter>(bytes.data(), bytes.size()));
  auto storages = std::make_shared<torch::jit::DeserializationStorageContext>();
  for (const std::string& name : reader.getAllRecords()) {
    if (name.rfind("data/", 0) != 0) continue;
    auto [data, size] = reader.getRecord(name);
    storages->addStorage(name.substr(5), c10::Storage(c10::Storage::use_byte_size_t(), size,
                                                      std::move(data), /*allocator=*/nullptr,
                                                      /*resizable=*/false));
  }
  return torch::jit::readArchiveAndTensors(
      "data", /*pickle_prefix=*/"", /*tensor_prefix=*/"", /*type_resolver=*/{},
      /*obj_loader=*/{}, at::Device(at::kCPU), reader, torch::jit::Unpickler::defaultTypeParser,
      storages);
}

// Whether every element of `t` lies inside its storage. The unpickler sets
// sizes, strides and offset as the file says, unchecked; a hostile offset
// would have LibTorch read other memory, or crash.
bool InsideStorage(const at::Tensor& t) {
  int64_t last = t.storage_offset();
  if (last < 0) return false;
  for (int64_t d = 0; d < t.dim(); ++d) {
    if (t.size(d) < 0 || t.stride(d) < 0) return false;
    if (t.size(d) == 0) return true;  // no elements to read
  }
  for (int64_t d = 0; d < t.dim(); ++d) {
    int64_t span = 0;
    if (__builtin_mul_overflow(t.size(d) - 1, t.stride(d), &span) ||
        __builtin_add_overflow(last, span, &last)) {
      return false;
    }
  }
  int64_t end = 0;
  return !__builtin_mul_overflow(last + 1, static_cast<int64_t>(t.element_size()), &end) &&
         static_cast<uint64_t>(end) <= t.storage().nbytes();
}

}  // namespace

absl::StatusOr<ReferenceCheckpoint> ReadReferenceCheckpoint(const std::string& path) {
  absl::StatusOr<std::string> file = data::ReadWholeFile(path);
  if (!file.ok()) return file.status();
  const std::vector<char> bytes(file->begin(), file->end());
  IValue root;
  try {
    root = LoadOnCpu(bytes);
  } catch (const std::exception& e) {
    return absl::DataLossError(
        absl::StrCat(path, ": not a readable torch.save checkpoint (truncated or corrupt)"));
  }
  if (!root.isGenericDict()) return absl::DataLossError(absl::StrCat(path, ": not a dict"));
  ReferenceCheckpoint ckpt{{}, {}, root.toGenericDict()};
  for (const char* key : {"model", "model_config", "state_dict"}) {
    if (!ckpt.contents.contains(key)) {
      return absl::DataLossError(absl::StrCat(path, ": no '", key, "' entry"));
    }
  }
  if (!ckpt.contents.at("model").isString() || !ckpt.contents.at("model_config").isGenericDict() ||
      !ckpt.contents.at("state_dict").isGenericDict()) {
    return absl::DataLossError(absl::StrCat(
        path, ": 'model' must be a string, 'model_config' and 'state_dict' dicts"));
  }
  absl::StatusOr<ModelSpec> spec =
      SpecFromReference(path, ckpt.contents.at("model").toStringRef(),
                        ckpt.contents.at("model_config").toGenericDict());
  if (!spec.ok()) return spec.status();
  ckpt.spec = *spec;
  for (const auto& kv : ckpt.contents.at("state_dict").toGenericDict()) {
    if (!kv.key().isString() || !kv.value().isTensor() ||
        !at::isFloatingType(kv.value().toTensor().scalar_type())) {
      return absl::DataLossError(absl::StrCat(path, ": state_dict entry ", Show(kv.key()),
                                              " is not a floating-point tensor"));
    }
    if (!InsideStorage(kv.value().toTensor())) {
      return absl::DataLossError(absl::StrCat(path, ": state_dict entry ", Show(kv.key()),
                                              " lies outside its stored data"));
    }
    ckpt.state_dict.emplace_back(kv.key().toStringRef(), kv.value().toTensor());
  }
  return ckpt;
}

absl::Status LoadNamedTensors(ByteLm& model, const NamedTensors& tensors,
                              const std::string& source) {
  std::map<std::string, torch::Tensor> given(tensors.begin(), tensors.end());
  std::vector<std::string> missing;
  torch::NoGradGuard no_grad;
  for (auto& p : model.named_parameters()) {
    auto it = given.find(p.key());
    if (it == given.end()) {
      missing.push_back(p.key());
      continue;
    }
    if (it->second.sizes() != p.value().sizes()) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": tensor ", p.key(), " has shape ", c10::str(it->second.sizes()),
          ", the model wants ", c10::str(p.value().sizes())));
    }
    // copy_ converts any dtype: integer or byte data in a manifest would
    // load as silently wrong weights.
    if (!it->second.is_floating_point()) {
      return absl::DataLossError(absl::StrCat(source, ": tensor ", p.key(), " is ",
                                              c10::toString(it->second.scalar_type()),
                                              ", not floating point"));
    }
    p.value().copy_(it->second);
    given.erase(it);
  }
  if (!missing.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": missing tensors ", absl::StrJoin(missing, ", ")));
  }
  if (!given.empty()) {
    std::vector<std::string> unknown;
    for (const auto& kv : given) unknown.push_back(kv.first);
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": unknown tensors ", absl::StrJoin(unknown, ", ")));
  }
  return absl::OkStatus();
}

absl::Status WriteReferenceCheckpoint(const std::string& path, ByteLm& model) {
  const ModelSpec& s = model.spec();
  const bool spacebyte = s.kind == ModelKind::kSpaceByte;
  if (spacebyte && s.patch_method == PatchMethod::kMultilingual) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": the reference has no multilingual patch rule; a model trained with it "
              "cannot be written in the reference's format"));
  }
  c10::impl::GenericDict config(c10::StringType::get(), c10::AnyType::get());
  config.insert("vocab_size", kVocabSize);
  config.insert("BOS", kBos);
  config.insert("tokenizer", IValue());
  config.insert("d_model", s.d_model);
  config.insert("context_size", s.context_size);
  config.insert("d_key", s.d_key);
  config.insert("d_ff_mult", s.d_ff_mult);
  config.insert("n_layers", s.n_layers);
  config.insert("tie_embedding", false);
  config.insert("qk_layer_norm", true);
  config.insert("init", "simple");
  config.insert("nonlinear", s.nonlinear == Nonlinear::kReLU ? "ReLU" : "GELU");
  config.insert("rope", s.rope);
  config.insert("position_encoding", true);
  config.insert("attention_groups", IValue());
  config.insert("attention_window",
                s.attention_window > 0 ? IValue(s.attention_window) : IValue());
  config.insert("sparse_attention", IValue());
  config.insert("layer_norm", s.norm == NormKind::kLayerNorm ? "LayerNorm" : "RMSNorm");
  if (spacebyte) {
    config.insert("patch_method", PatchMethodName(s.patch_method));
    config.insert("global_context_size", s.global_context_size);
    config.insert("d_local", s.d_local);
    config.insert("n_initial_layers", s.n_initial_layers);
    config.insert("n_local_layers", s.n_local_layers);
    config.insert("local_attention_window", s.local_attention_window);
    config.insert("print_patches", 0);
  }
  c10::impl::GenericDict state(c10::StringType::get(), c10::TensorType::get());
  for (const auto& p : model.named_parameters()) {
    state.insert(p.key(), p.value().detach().to(torch::kCPU).to(torch::kFloat).clone());
  }
  c10::impl::GenericDict root(c10::StringType::get(), c10::AnyType::get());
  root.insert("model", spacebyte ? "SpaceByte" : "Transformer");
  root.insert("model_config", config);
  root.insert("state_dict", state);
  const std::vector<char> bytes = torch::pickle_save(root);
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

}  // namespace spacebyte::trainer
