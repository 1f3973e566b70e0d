#include "cli/model_info.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace spacebyte::trainer {

ParameterCounts CountParameters(ByteLm& model) {
  ParameterCounts counts;
  const bool spacebyte = model.spec().kind == ModelKind::kSpaceByte;
  for (const auto& p : model.named_parameters()) {
    const bool global = !spacebyte || p.key().rfind("global_", 0) == 0;
    (global ? counts.global : counts.local) += p.value().numel();
  }
  return counts;
}

std::string DescribeModel(ByteLm& model) {
  const ModelSpec& s = model.spec();
  const ParameterCounts n = CountParameters(model);
  std::string shape;
  if (s.kind == ModelKind::kSpaceByte) {
    shape = absl::StrFormat(
        "spacebyte: D %d, d %d, T %d, TG %d, %d global + %d local layers (%d before), "
        "window %d, d_key %d%s",
        s.d_model, s.d_local, s.context_size, s.global_context_size, s.n_layers,
        s.n_local_layers, s.n_initial_layers, s.local_attention_window, s.d_key,
        s.rope ? ", rope" : "");
  } else {
    shape = absl::StrFormat("transformer: D %d, T %d, %d layers, window %s, d_key %d%s",
                            s.d_model, s.context_size, s.n_layers,
                            s.attention_window > 0 ? absl::StrCat(s.attention_window) : "full",
                            s.d_key, s.rope ? ", rope" : "");
  }
  return absl::StrFormat(
      "%s\nparameters: %d (global %d, local %d)\n"
      "flops_per_byte: training %.6g, inference %.6g\n",
      shape, n.total(), n.global, n.local, TrainingFlopsPerByte(s), InferenceFlopsPerByte(s));
}

}  // namespace spacebyte::trainer
