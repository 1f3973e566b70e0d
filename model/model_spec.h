#ifndef SPACEBYTE_MODEL_MODEL_SPEC_H_
#define SPACEBYTE_MODEL_MODEL_SPEC_H_

// The resolved model shape: every default filled in
// (docs/model.md#shapes-and-their-defaults), every constraint checked. Built
// once from proto::ModelConfig; the model code reads only this plain struct.

#include <cstdint>

#include "absl/status/statusor.h"
#include "proto/config.pb.h"

namespace spacebyte::trainer {

enum class ModelKind { kSpaceByte, kTransformer };
enum class PatchMethod { kUtf8, kPeriodic, kMultilingual };
enum class Nonlinear { kReLU, kGELU };
enum class NormKind { kLayerNorm, kRMSNorm };

inline constexpr int64_t kVocabSize = 256;
inline constexpr int64_t kBos = 255;
// The longest context a config may name: far past any model one would
// train, so a hostile T is one line rather than an allocation that aborts.
inline constexpr int64_t kMaxModelContext = int64_t{1} << 24;

struct ModelSpec {
  ModelKind kind = ModelKind::kSpaceByte;
  int64_t d_model = 0;                // D
  int64_t d_local = 0;                // d (SpaceByte only)
  int64_t context_size = 0;           // T
  int64_t global_context_size = 0;    // TG (SpaceByte only)
  int64_t n_layers = 0;               // global blocks (all blocks for kTransformer)
  int64_t n_local_layers = 0;
  int64_t n_initial_layers = 0;
  int64_t local_attention_window = 0; // W (SpaceByte only)
  int64_t attention_window = -1;      // kTransformer; -1 = full causal
  int64_t d_key = 64;
  int64_t d_ff_mult = 4;
  bool rope = false;
  PatchMethod patch_method = PatchMethod::kUtf8;
  int64_t dense_patch_bytes = 6;      // kMultilingual only
  int64_t word_patch_bytes = 0;       // kMultilingual only; 0 = no cap
  bool fill_global_context = false;   // kMultilingual only
  Nonlinear nonlinear = Nonlinear::kReLU;
  NormKind norm = NormKind::kLayerNorm;

  int64_t n_final_layers() const { return n_local_layers - n_initial_layers; }
  // Width of the blocks that see every byte.
  int64_t byte_width() const {
    return kind == ModelKind::kSpaceByte ? d_local : d_model;
  }
};

// "utf8", "periodic" or "multilingual", as configs spell them.
const char* PatchMethodName(PatchMethod method);

// Fills defaults and validates; errors name the offending `model.*` field.
absl::StatusOr<ModelSpec> ResolveModelConfig(const proto::ModelConfig& config);

// A SpaceByte spec holding only what patch rules read: `rule`'s T, TG and
// multilingual settings, with the rule named by `method`, checked as
// ResolveModelConfig checks them: for measuring a rule on a corpus before
// there is a model.
absl::StatusOr<ModelSpec> ResolvePatchRule(const std::string& method, ModelSpec rule);

// The fully explicit config (every default written out), for manifests.
proto::ModelConfig ToProto(const ModelSpec& spec);

// The cost accounting of docs/model.md#cost: multiply-adds per sample of T bytes.
double MultiplyAddsPerSample(const ModelSpec& spec);
inline double TrainingFlopsPerByte(const ModelSpec& spec) {
  return 6.0 * MultiplyAddsPerSample(spec) / spec.context_size;
}
inline double InferenceFlopsPerByte(const ModelSpec& spec) {
  return 2.0 * MultiplyAddsPerSample(spec) / spec.context_size;
}

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_MODEL_MODEL_SPEC_H_
