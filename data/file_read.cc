#include "data/file_read.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace spacebyte::data {

namespace fs = std::filesystem;

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  return ReadFileRange(path, 0, UINT64_MAX);
}

absl::StatusOr<std::string> ReadFileRange(const std::string& path, uint64_t offset,
                                          uint64_t max_bytes) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (ec || !fs::exists(status)) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  if (fs::is_directory(status)) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is a directory, not a file"));
  }
  if (!fs::is_regular_file(status)) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is not a regular file"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  }
  const uint64_t size = fs::file_size(path, ec);
  if (ec) return absl::DataLossError(absl::StrCat("cannot read ", path, ": ", ec.message()));
  if (offset >= size) return std::string();
  // Sized once: growing a string byte by byte held up to twice the file at
  // its peak. A file that changes meanwhile is read as far as it goes.
  std::string bytes(static_cast<size_t>(std::min(max_bytes, size - offset)), '\0');
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (in.bad()) return absl::DataLossError(absl::StrCat("cannot read ", path));
  bytes.resize(static_cast<size_t>(in.gcount()));
  return bytes;
}

}  // namespace spacebyte::data
