#include "data/mixing.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace spacebyte::data {

absl::StatusOr<std::vector<double>> MixingProbabilities(
    const std::map<std::string, int64_t>& bytes,
    const std::map<std::string, double>& weights, std::optional<double> alpha) {
  for (const auto& [language, weight] : weights) {
    if (!bytes.count(language)) {
      return absl::InvalidArgumentError(
          absl::StrCat("weight given for language '", language, "', which the split lacks"));
    }
    if (!(weight >= 0)) {
      return absl::InvalidArgumentError(absl::StrCat("negative weight for ", language));
    }
  }
  std::vector<double> p;
  double total = 0, largest = 1;
  for (const auto& entry : bytes) largest = std::max(largest, static_cast<double>(entry.second));
  for (const auto& [language, size] : bytes) {
    double w = 0;
    if (!weights.empty()) {
      auto it = weights.find(language);
      w = it == weights.end() ? 0 : it->second;
    } else {
      // Relative to the largest language: bytes^alpha itself is inf for
      // alpha 100, and inf / inf made every probability NaN.
      w = std::pow(static_cast<double>(size) / largest, alpha.value_or(1.0));
    }
    p.push_back(w);
    total += w;
  }
  if (!(total > 0)) return absl::InvalidArgumentError("all language weights are zero");
  if (!std::isfinite(total)) {
    return absl::InvalidArgumentError("the language weights sum past the largest double");
  }
  for (double& x : p) x /= total;
  return p;
}

absl::StatusOr<std::vector<double>> UniMaxProbabilities(
    const std::map<std::string, int64_t>& bytes, double budget_bytes, double max_epochs) {
  if (!(budget_bytes > 0)) return absl::InvalidArgumentError("UniMax needs a positive budget");
  if (!(max_epochs > 0)) {
    return absl::InvalidArgumentError("data.unimax_max_epochs must be positive");
  }
  std::vector<std::pair<int64_t, size_t>> by_size;  // (bytes, index in name order)
  for (const auto& [language, size] : bytes) by_size.emplace_back(size, by_size.size());
  std::sort(by_size.begin(), by_size.end());
  std::vector<double> share(bytes.size(), 0.0);
  double left = budget_bytes, total = 0;
  for (size_t i = 0; i < by_size.size(); ++i) {
    const double even = left / static_cast<double>(by_size.size() - i);
    const double taken = std::min(even, max_epochs * static_cast<double>(by_size[i].first));
    share[by_size[i].second] = taken;
    left -= taken;
    total += taken;
  }
  if (!(total > 0)) return absl::InvalidArgumentError("every language of the split is empty");
  for (double& x : share) x /= total;
  return share;
}

size_t SampleIndex(const std::vector<double>& cdf, double u) {
  size_t i = std::upper_bound(cdf.begin(), cdf.end(), u) - cdf.begin();
  return std::min(i, cdf.size() - 1);
}

}  // namespace spacebyte::data
