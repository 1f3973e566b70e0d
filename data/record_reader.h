#ifndef SPACEBYTE_DATA_RECORD_READER_H_
#define SPACEBYTE_DATA_RECORD_READER_H_

// Reads TFRecord-framed record files sequentially through a buffer, with
// Seek for random access (offsets from the shard index). Every framing or
// checksum problem is a DataLoss error naming the file and byte offset.

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace spacebyte::data {

class RecordReader {
 public:
  static absl::StatusOr<std::unique_ptr<RecordReader>> Open(const std::string& path);
  ~RecordReader();

  // Reads the record at offset() into *payload and moves past it. OutOfRange
  // at the clean end of the file; DataLoss for a corrupt or truncated record.
  absl::Status Read(std::string* payload);
  void Seek(uint64_t offset) { offset_ = offset; }
  uint64_t offset() const { return offset_; }
  uint64_t file_size() const { return file_size_; }
  const std::string& path() const { return path_; }

 private:
  RecordReader(std::string path, int fd, uint64_t size);
  // Copies [offset, offset + n) of the file into out; false if the file ends.
  bool Fetch(uint64_t offset, size_t n, char* out);
  absl::Status Corrupt(uint64_t record_offset, const std::string& why) const;

  std::string path_;
  int fd_;
  uint64_t file_size_;
  uint64_t offset_ = 0;
  std::string buffer_;
  uint64_t buffer_start_ = 0;
  size_t buffer_size_ = 0;
};

}  // namespace spacebyte::data

#endif  // SPACEBYTE_DATA_RECORD_READER_H_
