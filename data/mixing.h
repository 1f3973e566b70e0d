#ifndef SPACEBYTE_DATA_MIXING_H_
#define SPACEBYTE_DATA_MIXING_H_

// Per-language sampling probabilities: explicit weights, temperature
// sampling with weight ∝ bytes^alpha (alpha = 1: proportional to bytes;
// alpha = 0: uniform over languages), or UniMax (Chung et al. 2023).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace spacebyte::data {

// `bytes` per language (sorted by name). With `weights` non-empty, only the
// languages named there are sampled; naming an unknown language is an error.
absl::StatusOr<std::vector<double>> MixingProbabilities(
    const std::map<std::string, int64_t>& bytes,
    const std::map<std::string, double>& weights, std::optional<double> alpha);

// UniMax: the training budget (bytes) shared as evenly as possible over the
// languages, none given more than `max_epochs` passes over its bytes.
// Smallest languages first, each takes min(max_epochs * its bytes, an equal
// share of what is left); the probabilities are the shares over their sum.
// When the budget exceeds max_epochs times the corpus, every language is
// capped and the result is proportional to bytes.
absl::StatusOr<std::vector<double>> UniMaxProbabilities(
    const std::map<std::string, int64_t>& bytes, double budget_bytes, double max_epochs);

// The index i with cdf[i-1] <= u < cdf[i] for a cumulative distribution.
size_t SampleIndex(const std::vector<double>& cdf, double u);

}  // namespace spacebyte::data

#endif  // SPACEBYTE_DATA_MIXING_H_
