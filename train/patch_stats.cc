#include "train/patch_stats.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/eval_stream.h"
#include "model/patch_scanner.h"

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
  w.refused = scanner.refused();
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
    refused_ += w.refused;
    per_window_.push_back(w.boundaries);
  }
}

void PatchStats::Add(const PatchStats& other) {
  bytes_ += other.bytes_;
  patches_ += other.patches_;
  ignored_ += other.ignored_;
  refused_ += other.refused_;
  per_window_.insert(per_window_.end(), other.per_window_.begin(), other.per_window_.end());
}

double PatchStats::bytes_per_patch() const {
  return patches_ > 0 ? static_cast<double>(bytes_) / static_cast<double>(patches_) : NAN;
}

double PatchStats::ignored_fraction() const {
  return bytes_ > 0 ? static_cast<double>(ignored_) / static_cast<double>(bytes_) : 0.0;
}

double PatchStats::refused_fraction() const {
  const int64_t wanted = patches_ + refused_;
  return wanted > 0 ? static_cast<double>(refused_) / static_cast<double>(wanted) : 0.0;
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

absl::Status WritePatchReport(const std::string& data_dir, const std::string& split,
                              const ModelSpec& spec, std::ostream& out) {
  constexpr char kRow[] = "%-16s %12d %11.2f %11.1f %11d %9.4f %9.4f\n";
  out << absl::StrFormat("# patch_method %s, T %d, TG %d%s, split %s\n",
                         PatchMethodName(spec.patch_method), spec.context_size,
                         spec.global_context_size,
                         spec.patch_method == PatchMethod::kMultilingual
                             ? absl::StrCat(", dense_patch_bytes ", spec.dense_patch_bytes,
                                            ", word_patch_bytes ", spec.word_patch_bytes,
                                            spec.fill_global_context ? ", fill_global_context" : "")
                             : "",
                         split)
      << absl::StrFormat("%-16s %12s %11s %11s %11s %9s %9s\n", "language", "bytes",
                         "bytes/patch", "patches/win", "p99/win", "refused", "ignored");
  PatchStats all;
  absl::Status read = data::ForEachLanguage(
      data_dir, split, [&](const std::string& language, const std::vector<uint8_t>& bytes) {
        PatchStats one;
        one.AddStream(bytes, spec);
        all.Add(one);
        out << absl::StrFormat(kRow, language, one.bytes(), one.bytes_per_patch(),
                               one.mean_patches_per_window(),
                               one.patches_per_window_quantile(0.99), one.refused_fraction(),
                               one.ignored_fraction());
      });
  if (!read.ok()) return read;
  if (all.bytes() == 0) {
    return absl::NotFoundError(absl::StrCat(data_dir, " has no ", split, " data"));
  }
  out << absl::StrFormat(kRow, "all", all.bytes(), all.bytes_per_patch(),
                         all.mean_patches_per_window(), all.patches_per_window_quantile(0.99),
                         all.refused_fraction(), all.ignored_fraction());
  return absl::OkStatus();
}

}  // namespace spacebyte::trainer
