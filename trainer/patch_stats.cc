#include "trainer/patch_stats.h"

#include <algorithm>
#include <cmath>

#include "trainer/patch_scanner.h"

namespace spacebyte::trainer {

WindowPatches ScanWindow(const uint8_t* targets, int64_t length, const ModelSpec& spec) {
  WindowPatches w;
  w.scored = length;
  if (spec.kind != ModelKind::kSpaceByte) return w;  // no global context to overflow
  PatchScanner scanner(spec);
  for (int64_t t = 0; t < length; ++t) {
    // Target t is predicted at token t: BOS, then targets[t-1].
    scanner.Push(t == 0 ? kBos : targets[t - 1]);
    if (scanner.boundaries() > spec.global_context_size && w.scored == length) w.scored = t;
  }
  w.boundaries = scanner.boundaries();
  return w;
}

void PatchStats::AddStream(const std::vector<uint8_t>& bytes, const ModelSpec& spec) {
  const int64_t n = static_cast<int64_t>(bytes.size()), context = spec.context_size;
  for (int64_t offset = 0; offset < n; offset += context) {
    const int64_t length = std::min(context, n - offset);
    const WindowPatches w = ScanWindow(bytes.data() + offset, length, spec);
    bytes_ += length;
    patches_ += w.boundaries;
    ignored_ += length - w.scored;
    per_window_.push_back(w.boundaries);
  }
}

double PatchStats::bytes_per_patch() const {
  return patches_ > 0 ? static_cast<double>(bytes_) / static_cast<double>(patches_) : NAN;
}

double PatchStats::ignored_fraction() const {
  return bytes_ > 0 ? static_cast<double>(ignored_) / static_cast<double>(bytes_) : 0.0;
}

double PatchStats::mean_patches_per_window() const {
  return per_window_.empty() ? 0.0
                             : static_cast<double>(patches_) / static_cast<double>(windows());
}

int64_t PatchStats::patches_per_window_quantile(double q) const {
  if (per_window_.empty()) return 0;
  std::vector<int64_t> sorted = per_window_;
  const size_t k = std::min(sorted.size() - 1,
                            static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size()))) -
                                (q > 0 ? 1 : 0));
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(k), sorted.end());
  return sorted[k];
}

}  // namespace spacebyte::trainer
