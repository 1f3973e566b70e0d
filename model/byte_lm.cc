#include "model/byte_lm.h"

#include "model/spacebyte_model.h"
#include "model/transformer_model.h"

namespace spacebyte::trainer {

std::shared_ptr<ByteLm> MakeModel(const ModelSpec& spec) {
  if (spec.kind == ModelKind::kSpaceByte) return std::make_shared<SpaceByteModel>(spec);
  return std::make_shared<TransformerModel>(spec);
}

LossOutput ComputeLoss(const ModelOutput& out, const torch::Tensor& targets) {
  const torch::Tensor real = targets.ne(-1);
  torch::Tensor t = targets;
  if (out.ignored.defined()) t = t.masked_fill(out.ignored, -1);
  const torch::Tensor logits = out.logits.to(torch::kFloat);
  const torch::Tensor ce = torch::nn::functional::cross_entropy(
      logits.reshape({-1, logits.size(-1)}), t.reshape({-1}),
      torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-1).reduction(
          torch::kNone)).view_as(t);
  const torch::Tensor valid = t.ne(-1);
  LossOutput result;
  result.per_sample = ce.sum(1) / valid.sum(1).clamp_min(1).to(ce.dtype());
  result.loss = result.per_sample.mean();
  // Of the real targets, the share the model could not predict (0 when
  // there are none).
  const torch::Tensor real_count = real.sum().to(torch::kDouble);
  result.ignored_fraction = torch::where(
      real_count.gt(0), 1.0 - valid.sum().to(torch::kDouble) / real_count.clamp_min(1),
      torch::zeros_like(real_count));
  return result;
}

torch::Tensor TokensFromTargets(const torch::Tensor& targets) {
  return torch::constant_pad_nd(targets.narrow(1, 0, targets.size(1) - 1), {1, 0}, kBos);
}

}  // namespace spacebyte::trainer
