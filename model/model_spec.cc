#include "model/model_spec.h"

#include <algorithm>
#include <string>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace spacebyte::trainer {
namespace {

absl::Status Invalid(const std::string& message) {
  return absl::InvalidArgumentError(absl::StrCat("model config: ", message));
}

template <typename Enum>
absl::StatusOr<Enum> ParseChoice(
    const std::string& field, const std::string& value, Enum fallback,
    std::initializer_list<std::pair<const char*, Enum>> choices) {
  if (value.empty()) return fallback;
  const std::string lower = absl::AsciiStrToLower(value);
  std::string names;
  for (const auto& [name, e] : choices) {
    if (lower == name) return e;
    absl::StrAppend(&names, names.empty() ? "" : " | ", name);
  }
  return Invalid(absl::StrCat("model.", field, " = '", value, "' is not one of ", names));
}

absl::Status Positive(const char* field, int64_t value) {
  if (value > 0) return absl::OkStatus();
  return Invalid(absl::StrCat("model.", field, " must be positive, got ", value));
}

// Upper bounds far past any model one would train, so that a hostile or
// mistyped config (d_model 2^30 in a .pt, a manifest, --set) is one line,
// not an allocation that aborts or a loop that never ends.
constexpr int64_t kMaxWidth = int64_t{1} << 16;
constexpr int64_t kMaxLayers = 1024;
constexpr int64_t kMaxFfMult = 64;
constexpr double kMaxParameters = 1e12;

absl::Status AtMost(const char* field, int64_t value, int64_t limit) {
  if (value <= limit) return absl::OkStatus();
  return Invalid(absl::StrCat("model.", field, " = ", value, " exceeds ", limit));
}

absl::Status MultipleOf(const char* field, int64_t value, int64_t d_key) {
  if (value % d_key == 0) return absl::OkStatus();
  return Invalid(absl::StrCat("model.", field, " (", value,
                              ") is not a multiple of model.d_key (", d_key, ")"));
}

absl::StatusOr<PatchMethod> ParsePatchMethod(const std::string& value) {
  return ParseChoice<PatchMethod>("patch_method", value, PatchMethod::kUtf8,
                                  {{"utf8", PatchMethod::kUtf8},
                                   {"periodic", PatchMethod::kPeriodic},
                                   {"multilingual", PatchMethod::kMultilingual}});
}

// What the patch rules read: T, TG, the rule and its setting.
absl::Status ValidatePatchRule(const ModelSpec& s) {
  if (s.global_context_size > s.context_size) {
    return Invalid(absl::StrCat("model.global_context_size (", s.global_context_size,
                                ") exceeds model.context_size (", s.context_size, ")"));
  }
  if (s.patch_method == PatchMethod::kPeriodic &&
      s.context_size % s.global_context_size != 0) {
    return Invalid("model.patch_method = periodic needs model.context_size to be a "
                   "multiple of model.global_context_size");
  }
  if (s.dense_patch_bytes < 1) {
    return Invalid(absl::StrCat("model.dense_patch_bytes (", s.dense_patch_bytes,
                                ") must be at least 1"));
  }
  if (s.word_patch_bytes < 0) {
    return Invalid(absl::StrCat("model.word_patch_bytes (", s.word_patch_bytes,
                                ") must be 0 (no cap) or positive"));
  }
  if (s.fill_global_context && s.patch_method != PatchMethod::kMultilingual) {
    return Invalid("model.fill_global_context needs model.patch_method = multilingual");
  }
  return absl::OkStatus();
}

absl::Status Validate(const ModelSpec& s) {
  for (auto [field, v] : {std::pair{"d_model", s.d_model},
                          {"context_size", s.context_size},
                          {"n_layers", s.n_layers},
                          {"d_key", s.d_key},
                          {"d_ff_mult", s.d_ff_mult}}) {
    if (absl::Status st = Positive(field, v); !st.ok()) return st;
  }
  for (auto [field, v, limit] : {std::tuple{"d_model", s.d_model, kMaxWidth},
                                 {"d_local", s.d_local, kMaxWidth},
                                 {"context_size", s.context_size, kMaxModelContext},
                                 {"n_layers", s.n_layers, kMaxLayers},
                                 {"n_local_layers", s.n_local_layers, kMaxLayers},
                                 {"d_ff_mult", s.d_ff_mult, kMaxFfMult}}) {
    if (absl::Status st = AtMost(field, v, limit); !st.ok()) return st;
  }
  const double block = 4.0 + 2.0 * s.d_ff_mult;  // weights per w² of a block
  const double parameters = block * (static_cast<double>(s.n_layers) * s.d_model * s.d_model +
                                     static_cast<double>(s.n_local_layers) * s.d_local * s.d_local);
  if (parameters > kMaxParameters) {
    return Invalid(absl::StrCat("the model would hold ", parameters, " weights, more than ",
                                kMaxParameters));
  }
  if (s.d_key % 2 != 0 && s.rope) return Invalid("model.rope needs an even model.d_key");
  if (absl::Status st = MultipleOf("d_model", s.d_model, s.d_key); !st.ok()) return st;
  if (s.kind == ModelKind::kTransformer) {
    if (s.attention_window == 0) return Invalid("model.attention_window must be positive");
    return absl::OkStatus();
  }
  for (auto [field, v] : {std::pair{"d_local", s.d_local},
                          {"global_context_size", s.global_context_size},
                          {"n_local_layers", s.n_local_layers},
                          {"local_attention_window", s.local_attention_window}}) {
    if (absl::Status st = Positive(field, v); !st.ok()) return st;
  }
  if (absl::Status st = MultipleOf("d_local", s.d_local, s.d_key); !st.ok()) return st;
  if (s.d_local > s.d_model) {
    return Invalid(absl::StrCat("model.d_local (", s.d_local,
                                ") exceeds model.d_model (", s.d_model, ")"));
  }
  if (s.n_initial_layers < 0 || s.n_initial_layers > s.n_local_layers) {
    return Invalid(absl::StrCat("model.n_initial_layers (", s.n_initial_layers,
                                ") must lie in [0, model.n_local_layers = ",
                                s.n_local_layers, "]"));
  }
  return ValidatePatchRule(s);
}

}  // namespace

absl::StatusOr<ModelSpec> ResolvePatchRule(const std::string& method, ModelSpec rule) {
  absl::StatusOr<PatchMethod> patch = ParsePatchMethod(method);
  if (!patch.ok()) return patch.status();
  rule.patch_method = *patch;
  if (absl::Status st = Positive("context_size", rule.context_size); !st.ok()) return st;
  if (absl::Status st = Positive("global_context_size", rule.global_context_size); !st.ok()) {
    return st;
  }
  // The same bound as a model's: data patches took T = 2^63 - 1.
  if (absl::Status st = AtMost("context_size", rule.context_size, kMaxModelContext); !st.ok()) {
    return st;
  }
  if (absl::Status st = ValidatePatchRule(rule); !st.ok()) return st;
  return rule;
}

absl::StatusOr<ModelSpec> ResolveModelConfig(const proto::ModelConfig& c) {
  ModelSpec s;
  absl::StatusOr<ModelKind> kind = ParseChoice<ModelKind>(
      "kind", c.kind(), ModelKind::kSpaceByte,
      {{"spacebyte", ModelKind::kSpaceByte}, {"transformer", ModelKind::kTransformer}});
  absl::StatusOr<PatchMethod> patch = ParsePatchMethod(c.patch_method());
  absl::StatusOr<Nonlinear> nonlinear = ParseChoice<Nonlinear>(
      "nonlinear", c.nonlinear(), Nonlinear::kReLU,
      {{"relu", Nonlinear::kReLU}, {"gelu", Nonlinear::kGELU}});
  absl::StatusOr<NormKind> norm = ParseChoice<NormKind>(
      "layer_norm", c.layer_norm(), NormKind::kLayerNorm,
      {{"layernorm", NormKind::kLayerNorm}, {"rmsnorm", NormKind::kRMSNorm}});
  for (const absl::Status& st :
       {kind.status(), patch.status(), nonlinear.status(), norm.status()}) {
    if (!st.ok()) return st;
  }
  s.kind = *kind;
  s.patch_method = *patch;
  s.nonlinear = *nonlinear;
  s.norm = *norm;
  s.d_model = c.d_model();
  s.context_size = c.context_size();
  s.n_layers = c.n_layers();
  s.d_key = c.has_d_key() ? c.d_key() : 64;
  s.d_ff_mult = c.has_d_ff_mult() ? c.d_ff_mult() : 4;
  s.rope = c.rope();
  if (s.kind == ModelKind::kTransformer) {
    s.attention_window = c.has_attention_window() ? c.attention_window() : -1;
  } else {
    s.d_local = c.has_d_local() ? c.d_local() : s.d_model / 2;
    s.global_context_size =
        c.has_global_context_size() ? c.global_context_size() : s.context_size / 6;
    if (!c.has_n_local_layers()) return Invalid("model.n_local_layers must be set");
    s.n_local_layers = c.n_local_layers();
    s.n_initial_layers =
        c.has_n_initial_layers() ? c.n_initial_layers() : s.n_local_layers / 2;
    s.local_attention_window =
        c.has_local_attention_window() ? c.local_attention_window() : s.d_local;
    if (c.has_dense_patch_bytes()) s.dense_patch_bytes = c.dense_patch_bytes();
    if (c.has_word_patch_bytes()) s.word_patch_bytes = c.word_patch_bytes();
    s.fill_global_context = c.fill_global_context();
  }
  if (absl::Status st = Validate(s); !st.ok()) return st;
  return s;
}

const char* PatchMethodName(PatchMethod method) {
  switch (method) {
    case PatchMethod::kUtf8:
      return "utf8";
    case PatchMethod::kPeriodic:
      return "periodic";
    case PatchMethod::kMultilingual:
      return "multilingual";
  }
  return "utf8";
}

proto::ModelConfig ToProto(const ModelSpec& s) {
  proto::ModelConfig c;
  const bool spacebyte = s.kind == ModelKind::kSpaceByte;
  c.set_kind(spacebyte ? "spacebyte" : "transformer");
  c.set_d_model(s.d_model);
  c.set_context_size(s.context_size);
  c.set_n_layers(s.n_layers);
  c.set_d_key(s.d_key);
  c.set_d_ff_mult(s.d_ff_mult);
  c.set_rope(s.rope);
  c.set_nonlinear(s.nonlinear == Nonlinear::kReLU ? "relu" : "gelu");
  c.set_layer_norm(s.norm == NormKind::kLayerNorm ? "layernorm" : "rmsnorm");
  if (spacebyte) {
    c.set_d_local(s.d_local);
    c.set_global_context_size(s.global_context_size);
    c.set_n_local_layers(s.n_local_layers);
    c.set_n_initial_layers(s.n_initial_layers);
    c.set_local_attention_window(s.local_attention_window);
    c.set_patch_method(PatchMethodName(s.patch_method));
    if (s.patch_method == PatchMethod::kMultilingual) {
      c.set_dense_patch_bytes(static_cast<int32_t>(s.dense_patch_bytes));
      c.set_word_patch_bytes(static_cast<int32_t>(s.word_patch_bytes));
      c.set_fill_global_context(s.fill_global_context);
    }
  } else if (s.attention_window > 0) {
    c.set_attention_window(s.attention_window);
  }
  return c;
}

namespace {

// One block of width w over a sequence of L with attention window V (no
// query sees more than L keys, whatever the window). The spec's L·8w² is
// the feed-forward's two w × 4w products at d_ff_mult 4.
double BlockMultiplyAdds(double w, double length, double window, double ff_mult) {
  const double seen = std::min(window, length);
  return length * (4 * w * w + 2 * w * seen) + length * 2 * ff_mult * w * w;
}

}  // namespace

double MultiplyAddsPerSample(const ModelSpec& s) {
  const double T = s.context_size;
  if (s.kind == ModelKind::kTransformer) {
    const double window = s.attention_window > 0 ? s.attention_window : T;
    return s.n_layers * BlockMultiplyAdds(s.d_model, T, window, s.d_ff_mult) +
           T * s.d_model * kVocabSize;
  }
  const double TG = s.global_context_size;
  return s.n_layers * BlockMultiplyAdds(s.d_model, TG, TG, s.d_ff_mult) +
         s.n_local_layers *
             BlockMultiplyAdds(s.d_local, T, s.local_attention_window, s.d_ff_mult) +
         T * s.d_local * kVocabSize;
}

}  // namespace spacebyte::trainer
