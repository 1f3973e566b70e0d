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

absl::Status ForEachLanguage(
    const std::string& data_dir, const std::string& split,
    const std::function<void(const std::string& language, const std::vector<uint8_t>& bytes)>&
        visit) {
  constexpr int64_t kChunk = 1 << 16;
  absl::StatusOr<std::unique_ptr<EvalStream>> stream = EvalStream::Open(data_dir, split, kChunk);
  if (!stream.ok()) return stream.status();
  std::vector<uint8_t> bytes;
  int32_t current = -1;
  EvalWindow w;
  while (true) {
    absl::StatusOr<bool> more = (*stream)->Next(&w);
    if (!more.ok()) return more.status();
    if (!*more || w.language != current) {
      if (current >= 0) visit((*stream)->languages()[current], bytes);
      if (!*more) return absl::OkStatus();
      bytes.clear();
      current = w.language;
    }
    bytes.insert(bytes.end(), w.targets.begin(), w.targets.begin() + w.length);
  }
}

}  // namespace spacebyte::data
