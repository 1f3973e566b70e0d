#include "data/eval_stream.h"

#include <algorithm>

#include "data/dataset.h"

namespace spacebyte::data {

absl::StatusOr<std::unique_ptr<EvalStream>> EvalStream::Open(const std::string& data_dir,
                                                             const std::string& split,
                                                             int64_t context) {
  if (context <= 0) return absl::InvalidArgumentError("context must be positive");
  auto languages = OpenSplit(data_dir, split, /*allow_truncated=*/false);
  if (!languages.ok()) return languages.status();
  std::unique_ptr<EvalStream> stream(new EvalStream(context));
  StreamOptions options{/*seed=*/0, /*shuffle=*/false, /*wrap=*/false, /*skip_corrupt=*/false};
  for (auto& [language, entry] : *languages) {
    stream->languages_.push_back(language);
    stream->streams_.push_back(std::make_unique<LanguageStream>(
        language, std::move(entry.shards), options, &stream->corrupt_records_));
  }
  return stream;
}

absl::StatusOr<bool> EvalStream::Next(EvalWindow* window) {
  window->targets.assign(context_, 0);
  while (current_ < streams_.size()) {
    absl::StatusOr<size_t> taken = streams_[current_]->Take(context_, window->targets.data());
    if (!taken.ok()) return taken.status();
    if (*taken > 0) {
      window->length = static_cast<int64_t>(*taken);
      window->language = static_cast<int32_t>(current_);
      if (*taken < static_cast<size_t>(context_)) ++current_;
      return true;
    }
    ++current_;
  }
  return false;
}

}  // namespace spacebyte::data
