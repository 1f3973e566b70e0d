#include "data/record_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "data/crc32c.h"
#include "data/little_endian.h"

namespace spacebyte::data {
namespace {
constexpr size_t kBufferBytes = 1 << 20;
constexpr size_t kHeaderBytes = 12;
constexpr size_t kFooterBytes = 4;
}  // namespace

absl::StatusOr<std::unique_ptr<RecordReader>> RecordReader::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || ::fstat(fd, &st) != 0) {
    if (fd >= 0) ::close(fd);
    return absl::NotFoundError(absl::StrCat("cannot open record file ", path, ": ",
                                            std::strerror(errno)));
  }
  return std::unique_ptr<RecordReader>(new RecordReader(path, fd, st.st_size));
}

RecordReader::RecordReader(std::string path, int fd, uint64_t size)
    : path_(std::move(path)), fd_(fd), file_size_(size), buffer_(kBufferBytes, '\0') {}

RecordReader::~RecordReader() { ::close(fd_); }

bool RecordReader::Fetch(uint64_t offset, size_t n, char* out) {
  if (offset > file_size_ || n > file_size_ - offset) return false;
  if (offset >= buffer_start_ && offset + n <= buffer_start_ + buffer_size_) {
    std::memcpy(out, buffer_.data() + (offset - buffer_start_), n);
    return true;
  }
  if (n > buffer_.size() / 2) {  // large payloads bypass the buffer
    return ::pread(fd_, out, n, offset) == static_cast<ssize_t>(n);
  }
  ssize_t got = ::pread(fd_, buffer_.data(), buffer_.size(), offset);
  if (got < static_cast<ssize_t>(n)) return false;
  buffer_start_ = offset;
  buffer_size_ = got;
  std::memcpy(out, buffer_.data(), n);
  return true;
}

absl::Status RecordReader::Corrupt(uint64_t record_offset, const std::string& why) const {
  return absl::DataLossError(
      absl::StrCat(path_, ": ", why, " in the record at byte offset ", record_offset));
}

absl::Status RecordReader::Read(std::string* payload) {
  const uint64_t start = offset_;
  if (start == file_size_) return absl::OutOfRangeError(absl::StrCat(path_, ": end of file"));
  char header[kHeaderBytes];
  if (!Fetch(start, kHeaderBytes, header)) return Corrupt(start, "truncated header");
  if (kChecksumsMustMatch && UnmaskCrc(ReadU32(header + 8)) != Crc32c({header, 8})) {
    return Corrupt(start, "length checksum mismatch");
  }
  const uint64_t length = ReadU64(header);
  if (length > file_size_ - start - kHeaderBytes) return Corrupt(start, "truncated payload");
  payload->resize(length);
  char footer[kFooterBytes];
  if (!Fetch(start + kHeaderBytes, length, payload->data()) ||
      !Fetch(start + kHeaderBytes + length, kFooterBytes, footer)) {
    return Corrupt(start, "truncated payload");
  }
  if (kChecksumsMustMatch && UnmaskCrc(ReadU32(footer)) != Crc32c(*payload)) {
    return Corrupt(start, "payload checksum mismatch");
  }
  offset_ = start + kHeaderBytes + length + kFooterBytes;
  return absl::OkStatus();
}

}  // namespace spacebyte::data
