#ifndef SPACEBYTE_DATA_EVAL_STREAM_H_
#define SPACEBYTE_DATA_EVAL_STREAM_H_

// One deterministic pass over a split for evaluation: languages in name
// order, each language's packed stream (shards in manifest order, no
// shuffling) cut into consecutive T-byte windows; a language's last window
// may be short. Window i is the same whatever reads it, so ranks can share
// the windows out by index.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/language_stream.h"

namespace spacebyte::data {

struct EvalWindow {
  std::vector<uint8_t> targets;  // T bytes; those past `length` are zero
  int64_t length = 0;
  int32_t language = 0;          // index into EvalStream::languages()
};

class EvalStream {
 public:
  static absl::StatusOr<std::unique_ptr<EvalStream>> Open(const std::string& data_dir,
                                                          const std::string& split,
                                                          int64_t context);
  // False once every language is exhausted.
  absl::StatusOr<bool> Next(EvalWindow* window);
  const std::vector<std::string>& languages() const { return languages_; }

 private:
  explicit EvalStream(int64_t context) : context_(context) {}

  int64_t context_;
  std::vector<std::string> languages_;
  std::vector<std::unique_ptr<LanguageStream>> streams_;
  size_t current_ = 0;
  int64_t corrupt_records_ = 0;
};

// Hands `visit` each language of a split whole (name order; its packed
// stream as EvalStream reads it), one at a time.
absl::Status ForEachLanguage(
    const std::string& data_dir, const std::string& split,
    const std::function<void(const std::string& language, const std::vector<uint8_t>& bytes)>&
        visit);

}  // namespace spacebyte::data

#endif  // SPACEBYTE_DATA_EVAL_STREAM_H_
