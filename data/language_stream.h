#ifndef SPACEBYTE_DATA_LANGUAGE_STREAM_H_
#define SPACEBYTE_DATA_LANGUAGE_STREAM_H_

// One language's packed byte stream: its documents in shard order, each
// opened by BOS (255), concatenated. Only the current record is in memory.
// The position is a LanguageCursor; shards are reshuffled every epoch from
// the seed when `shuffle` is on (training), and the stream ends instead of
// wrapping when `wrap` is off (evaluation).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/record_reader.h"
#include "proto/data.pb.h"

namespace spacebyte::data {

// Starts every document in a stream; the model's BOS token too (the two are
// held equal where batches reach the model: train/batch_upload.cc).
inline constexpr uint8_t kBos = 255;

struct ShardRef {
  std::string path;
  int64_t records = 0;
};

struct StreamOptions {
  uint64_t seed = 0;
  bool shuffle = true;
  bool wrap = true;
  bool skip_corrupt = false;
  bool report_corrupt = false;  // print each skipped record once on stderr
};

class LanguageStream {
 public:
  LanguageStream(std::string language, std::vector<ShardRef> shards, StreamOptions options,
                 int64_t* corrupt_records);

  // Copies the next n bytes into out (out == nullptr skips them, still
  // reading every record so corrupt ones are found alike on every rank).
  // Returns how many bytes were taken: fewer than n only at the end of a
  // non-wrapping stream.
  absl::StatusOr<size_t> Take(size_t n, uint8_t* out);

  const proto::LanguageCursor& cursor() const { return cursor_; }
  // Fails, changing nothing, if the cursor points outside this stream's
  // shards (a loader state from another dataset).
  absl::Status Restore(const proto::LanguageCursor& cursor);

 private:
  absl::Status LoadRecord();
  absl::Status OpenShard(int64_t shard);
  // Counts and reports a corrupt record the first time it is skipped.
  void NoteCorrupt(int64_t shard, const absl::Status& why);
  // Moves to the next record; false at the end of a non-wrapping stream.
  bool Advance();
  int64_t ShardAt(int64_t ordinal);

  std::string language_;
  std::vector<ShardRef> shards_;
  StreamOptions options_;
  int64_t* corrupt_records_;
  proto::LanguageCursor cursor_;
  std::vector<int64_t> order_;  // this epoch's shard order
  int64_t order_epoch_ = -1;
  int64_t reader_shard_ = -1;
  std::unique_ptr<RecordReader> reader_;
  std::vector<uint64_t> offsets_;
  bool loaded_ = false;
  size_t unit_size_ = 0;  // 1 + text size, or 0 for a skipped corrupt record
  proto::Document document_;
  std::string payload_;
  int64_t total_records_ = 0;
  int64_t empty_run_ = 0;  // records in a row that gave no bytes
};

}  // namespace spacebyte::data

#endif  // SPACEBYTE_DATA_LANGUAGE_STREAM_H_
