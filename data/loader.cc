#include "data/loader.h"

#include "absl/strings/str_cat.h"
#include "data/dataset.h"
#include "data/hash64.h"
#include "data/mixing.h"
#include "proto/data.pb.h"

namespace spacebyte::data {
namespace {
constexpr uint64_t kLanguageChoiceStream = 0x6c616e67;  // "lang"

constexpr int64_t kMaxRankBytes = int64_t{1} << 32;

absl::Status CheckOptions(const LoaderOptions& o) {
  if (o.context <= 0 || o.context > kMaxContext) {
    return absl::InvalidArgumentError(
        absl::StrCat("context ", o.context, " is not in [1, ", kMaxContext, "]"));
  }
  if (o.global_batch > kMaxGlobalBatch) {
    return absl::InvalidArgumentError(
        absl::StrCat("global batch ", o.global_batch, " exceeds ", kMaxGlobalBatch));
  }
  if (o.dp_size <= 0 || o.dp_rank < 0 || o.dp_rank >= o.dp_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("dp_rank ", o.dp_rank, " is not in [0, dp_size=", o.dp_size, ")"));
  }
  if (o.global_batch <= 0 || o.global_batch % o.dp_size != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "global batch ", o.global_batch, " is not a positive multiple of dp_size ", o.dp_size));
  }
  if (o.global_batch / o.dp_size * o.context > kMaxRankBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a batch of ", o.global_batch / o.dp_size, " rows of ", o.context,
        " bytes per rank exceeds ", kMaxRankBytes, " bytes"));
  }
  return absl::OkStatus();
}
}  // namespace

absl::StatusOr<std::unique_ptr<Loader>> Loader::Open(const LoaderOptions& options) {
  if (absl::Status s = CheckOptions(options); !s.ok()) return s;
  auto split = OpenSplit(options.data_dir, options.split, options.skip_corrupt);
  if (!split.ok()) return split.status();
  std::map<std::string, int64_t> bytes;
  for (const auto& [language, entry] : *split) bytes[language] = entry.bytes;
  auto p = options.unimax
               ? UniMaxProbabilities(bytes, options.budget_bytes, options.unimax_max_epochs)
               : MixingProbabilities(bytes, options.weights, options.alpha);
  if (!p.ok()) return p.status();

  std::unique_ptr<Loader> loader(new Loader(options));
  StreamOptions stream_options{options.seed, /*shuffle=*/true, /*wrap=*/true,
                               options.skip_corrupt,
                               /*report_corrupt=*/options.dp_rank == 0};
  double cumulative = 0;
  size_t i = 0;
  for (auto& [language, entry] : *split) {
    const double probability = (*p)[i++];
    if (probability == 0) continue;  // never drawn, so never opened
    loader->languages_.push_back(language);
    loader->probabilities_.push_back(probability);
    cumulative += probability;
    loader->cdf_.push_back(cumulative);
    loader->streams_.push_back(std::make_unique<LanguageStream>(
        language, std::move(entry.shards), stream_options, &loader->corrupt_records_));
  }
  loader->cdf_.back() = 1.0;
  return loader;
}

absl::StatusOr<Batch> Loader::Next() {
  const int64_t B = options_.global_batch;
  const int64_t T = options_.context;
  Batch batch;
  batch.step = next_sample_ / B;
  batch.rows = B / options_.dp_size;
  batch.context = T;
  batch.first_position = batch.rows * options_.dp_rank;
  batch.targets.resize(batch.rows * T);
  batch.language.resize(batch.rows);
  for (int64_t j = 0; j < B; ++j) {
    const int64_t sample = next_sample_ + j;
    const size_t language =
        SampleIndex(cdf_, UniformAt(options_.seed, kLanguageChoiceStream, sample));
    const int64_t row = j - batch.first_position;
    const bool mine = row >= 0 && row < batch.rows;
    uint8_t* out = mine ? batch.targets.data() + row * T : nullptr;
    absl::StatusOr<size_t> taken = streams_[language]->Take(T, out);
    if (!taken.ok()) return taken.status();
    if (mine) batch.language[row] = static_cast<int32_t>(language);
  }
  next_sample_ += B;
  batch.state_after = SaveState();
  batch.corrupt_records = corrupt_records_;
  return batch;
}

std::string Loader::SaveState() const {
  proto::LoaderState state;
  state.set_next_sample(next_sample_);
  state.set_seed(options_.seed);
  state.set_context(options_.context);
  state.set_corrupt_records(corrupt_records_);
  for (const auto& stream : streams_) *state.add_cursors() = stream->cursor();
  return state.SerializeAsString();
}

absl::Status Loader::RestoreState(const std::string& bytes) {
  proto::LoaderState state;
  if (!state.ParseFromString(bytes)) return absl::DataLossError("unreadable loader state");
  if (state.seed() != options_.seed || state.context() != options_.context) {
    return absl::InvalidArgumentError(absl::StrCat(
        "loader state is for seed ", state.seed(), " and context ", state.context(),
        ", not seed ", options_.seed, " and context ", options_.context));
  }
  if (state.next_sample() % options_.global_batch != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "loader state stopped after ", state.next_sample(),
        " samples, not a whole number of global batches of ", options_.global_batch));
  }
  if (state.cursors_size() != static_cast<int>(streams_.size())) {
    return absl::InvalidArgumentError("loader state is for a different set of languages");
  }
  for (int i = 0; i < state.cursors_size(); ++i) {
    if (state.cursors(i).language() != languages_[i]) {
      return absl::InvalidArgumentError("loader state is for a different set of languages");
    }
  }
  if (state.next_sample() < 0 || state.corrupt_records() < 0) {
    return absl::InvalidArgumentError("loader state has a negative position or count");
  }
  for (int i = 0; i < state.cursors_size(); ++i) {
    if (absl::Status s = streams_[i]->Restore(state.cursors(i)); !s.ok()) return s;
  }
  next_sample_ = state.next_sample();
  corrupt_records_ = state.corrupt_records();
  return absl::OkStatus();
}

}  // namespace spacebyte::data
