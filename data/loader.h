#ifndef SPACEBYTE_DATA_LOADER_H_
#define SPACEBYTE_DATA_LOADER_H_

// The training loader. Global sample g (g = step * B + j) draws its language
// from (seed, g) and takes the next T bytes of that language's packed
// stream. Every rank walks the same global sequence and copies only its
// contiguous share of each global batch, so the samples do not depend on
// the number of ranks, and the state after a whole batch is the same on all
// ranks: a run may resume on a different number of ranks.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/language_stream.h"

namespace spacebyte::data {

// A batch lives in memory: these bounds keep rows · T from wrapping, and a
// mistyped size from an allocation that aborts. Configs check against them
// before any loader exists.
inline constexpr int64_t kMaxContext = int64_t{1} << 24;
inline constexpr int64_t kMaxGlobalBatch = int64_t{1} << 24;

struct LoaderOptions {
  std::string data_dir;
  std::string split = "train";
  int64_t context = 0;       // T
  int64_t global_batch = 0;  // B, divisible by dp_size
  int dp_size = 1;
  int dp_rank = 0;
  uint64_t seed = 0;
  std::map<std::string, double> weights;  // empty: bytes^alpha
  std::optional<double> alpha;            // [1]
  // UniMax instead of weights or temperature: needs the run's budget.
  bool unimax = false;
  double unimax_max_epochs = 1;
  double budget_bytes = 0;  // samples the run draws x T
  bool skip_corrupt = false;
  int prefetch = 4;  // batches prepared ahead by PrefetchLoader
};

// This rank's rows of one global batch. Row i is global sample
// step * B + first_position + i; targets are the T bytes the model predicts
// (the trainer builds tokens = BOS + targets[:-1]).
struct Batch {
  int64_t step = 0;
  int64_t rows = 0;
  int64_t context = 0;
  int64_t first_position = 0;        // position of row 0 in the global batch
  std::vector<uint8_t> targets;      // rows x context
  std::vector<int32_t> language;     // rows; index into Loader::languages()
  std::string state_after;           // SaveState() once this batch is consumed
  int64_t corrupt_records = 0;       // skipped so far (skip_corrupt)
};

class Loader {
 public:
  static absl::StatusOr<std::unique_ptr<Loader>> Open(const LoaderOptions& options);

  absl::StatusOr<Batch> Next();

  std::string SaveState() const;
  absl::Status RestoreState(const std::string& bytes);

  const std::vector<std::string>& languages() const { return languages_; }
  const std::vector<double>& probabilities() const { return probabilities_; }
  int64_t corrupt_records() const { return corrupt_records_; }
  const LoaderOptions& options() const { return options_; }

 private:
  explicit Loader(LoaderOptions options) : options_(std::move(options)) {}

  LoaderOptions options_;
  std::vector<std::string> languages_;
  std::vector<double> probabilities_;
  std::vector<double> cdf_;
  std::vector<std::unique_ptr<LanguageStream>> streams_;
  int64_t next_sample_ = 0;
  int64_t corrupt_records_ = 0;
};

}  // namespace spacebyte::data

#endif  // SPACEBYTE_DATA_LOADER_H_
