#include "model/patching.h"

#include "model/patch_scanner.h"

namespace spacebyte::trainer {
namespace {

// The multilingual rule decodes characters, so it scans each row on the CPU
// (rows in parallel) and hands the result back to the tokens' device.
torch::Tensor ScannedBoundaries(const torch::Tensor& tokens, const ModelSpec& spec) {
  const torch::Tensor cpu = tokens.to(torch::kCPU, torch::kLong).contiguous();
  torch::Tensor out = torch::zeros(cpu.sizes(), torch::kBool);
  const int64_t rows = cpu.size(0), length = cpu.size(1);
  const int64_t* in = cpu.data_ptr<int64_t>();
  bool* flags = out.data_ptr<bool>();
  at::parallel_for(0, rows, 1, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      PatchScanner scanner(spec);
      for (int64_t t = 0; t < length; ++t) flags[r * length + t] = scanner.Push(in[r * length + t]);
    }
  });
  return out.to(tokens.device());
}

}  // namespace

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
  if (spec.patch_method == PatchMethod::kMultilingual) return ScannedBoundaries(tokens, spec);
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
