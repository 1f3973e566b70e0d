#include "data/record_writer.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "data/crc32c.h"
#include "data/little_endian.h"
#include "data/shard_index.h"

namespace spacebyte::data {

absl::StatusOr<std::unique_ptr<RecordWriter>> RecordWriter::Open(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) {  // the reason: a name too long, too many open files, ...
    return absl::InternalError(absl::StrCat("cannot create ", path, ": ", std::strerror(errno)));
  }
  return std::unique_ptr<RecordWriter>(new RecordWriter(path, file));
}

RecordWriter::~RecordWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

absl::Status RecordWriter::Put(std::string_view bytes) {
  if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) {
    return absl::InternalError(absl::StrCat("cannot write ", path_));
  }
  file_crc_ = Crc32cExtend(file_crc_, bytes.data(), bytes.size());
  file_bytes_ += bytes.size();
  return absl::OkStatus();
}

std::string FrameRecord(std::string_view payload) {
  std::string record;
  AppendU64(&record, payload.size());
  AppendU32(&record, MaskCrc(Crc32c(record)));
  record.append(payload);
  AppendU32(&record, MaskCrc(Crc32c(payload)));
  return record;
}

absl::Status RecordWriter::Write(std::string_view payload) {
  offsets_.push_back(file_bytes_);
  return Put(FrameRecord(payload));
}

absl::Status RecordWriter::Close() {
  int rc = std::fclose(file_);
  file_ = nullptr;
  if (rc != 0) return absl::InternalError(absl::StrCat("cannot write ", path_));
  return WriteShardIndex(IndexPath(path_), offsets_);
}

}  // namespace spacebyte::data
