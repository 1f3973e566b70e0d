#include "trainer/patching.h"

namespace spacebyte::trainer {

torch::Tensor Spacelike(const torch::Tensor& t) {
  auto between = [&](int64_t lo, int64_t hi) { return t.gt(lo).logical_and(t.lt(hi)); };
  return t.lt('0')
      .logical_or(between('9', 'A'))
      .logical_or(between('Z', 'a'))
      .logical_or(between('z', 0x80))
      .logical_or(t.ge(0xC0));
}

torch::Tensor Boundaries(const torch::Tensor& tokens, const ModelSpec& spec) {
  const int64_t length = tokens.size(1);
  if (spec.patch_method == PatchMethod::kPeriodic) {
    const int64_t period = spec.context_size / spec.global_context_size;
    return torch::arange(length, tokens.options())
        .remainder(period)
        .eq(0)
        .unsqueeze(0)
        .expand_as(tokens)
        .contiguous();
  }
  const torch::Tensor space = Spacelike(tokens);
  // A run of spacelike bytes opens one patch, at its first byte.
  const torch::Tensor after_space = torch::constant_pad_nd(
      space.narrow(1, 0, length - 1), {1, 0}, /*value=*/0);
  return space.logical_and(after_space.logical_not()).logical_or(tokens.eq(kBos));
}

Patches FindPatches(const torch::Tensor& tokens, const ModelSpec& spec) {
  const int64_t batch = tokens.size(0), length = tokens.size(1);
  const int64_t global = spec.global_context_size;
  const torch::Tensor boundary = Boundaries(tokens, spec);
  const torch::Tensor rank = boundary.to(torch::kLong).cumsum(1);  // 1-based index
  // Each of the first TG boundaries goes to slot rank-1; the rest to a
  // spare slot TG that is dropped.
  const torch::Tensor slot =
      torch::where(boundary.logical_and(rank.le(global)), rank - 1, global);
  const torch::Tensor positions =
      torch::arange(length, tokens.options().dtype(torch::kLong)).expand({batch, length});
  Patches p;
  p.global_ts = torch::full({batch, global + 1}, length - 1, positions.options())
                    .scatter_(1, slot, positions)
                    .narrow(1, 0, global)
                    .contiguous();
  p.global_T = rank.select(1, length - 1).clamp_max(global);
  p.overflow = rank.gt(global);
  return p;
}

}  // namespace spacebyte::trainer
