#ifndef SPACEBYTE_DATA_RECORD_WRITER_H_
#define SPACEBYTE_DATA_RECORD_WRITER_H_

// Writes a record file framed exactly as TFRecord (u64 length, masked
// CRC32C of the length, payload, masked CRC32C of the payload) so existing
// TFRecord readers read it, and its index (data/shard_index.h) on Close.

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace spacebyte::data {

// One record's bytes as TFRecord frames it.
std::string FrameRecord(std::string_view payload);

class RecordWriter {
 public:
  static absl::StatusOr<std::unique_ptr<RecordWriter>> Open(const std::string& path);
  ~RecordWriter();

  absl::Status Write(std::string_view payload);
  // Flushes the file and writes the index beside it.
  absl::Status Close();

  int64_t records() const { return static_cast<int64_t>(offsets_.size()); }
  uint64_t file_bytes() const { return file_bytes_; }
  uint32_t file_crc32c() const { return file_crc_; }

 private:
  RecordWriter(std::string path, std::FILE* file) : path_(std::move(path)), file_(file) {}
  absl::Status Put(std::string_view bytes);

  std::string path_;
  std::FILE* file_;
  std::vector<uint64_t> offsets_;
  uint64_t file_bytes_ = 0;
  uint32_t file_crc_ = 0;
};

}  // namespace spacebyte::data

#endif  // SPACEBYTE_DATA_RECORD_WRITER_H_
