#include "data/shard_index.h"

#include <cstring>
#include <fstream>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "data/crc32c.h"
#include "data/file_read.h"
#include "data/little_endian.h"

namespace spacebyte::data {
namespace {
constexpr char kMagic[] = "SBIDX001";
constexpr size_t kMagicSize = 8;
}  // namespace

std::string IndexPath(const std::string& shard_path) { return shard_path + ".idx"; }

absl::Status WriteShardIndex(const std::string& path,
                             const std::vector<uint64_t>& offsets) {
  std::string bytes(kMagic, kMagicSize);
  AppendU64(&bytes, offsets.size());
  for (uint64_t offset : offsets) AppendU64(&bytes, offset);
  AppendU32(&bytes, MaskCrc(Crc32c(bytes)));
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), bytes.size());
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint64_t>> ReadShardIndex(const std::string& path) {
  absl::StatusOr<std::string> bytes = ReadWholeFile(path);
  if (absl::IsNotFound(bytes.status())) {
    return absl::NotFoundError(absl::StrCat("cannot open shard index ", path));
  }
  if (!bytes.ok()) return bytes.status();
  return ParseShardIndex(path, *bytes);
}

absl::StatusOr<std::vector<uint64_t>> ParseShardIndex(const std::string& path,
                                                      const std::string& bytes) {
  auto corrupt = [&](const char* why) {
    return absl::DataLossError(absl::StrCat("corrupt shard index ", path, ": ", why));
  };
  if (bytes.size() < kMagicSize + 12 || bytes.compare(0, kMagicSize, kMagic) != 0) {
    return corrupt("bad header");
  }
  const uint64_t count = ReadU64(bytes.data() + kMagicSize);
  // Compared by division: 8 * count overflows for a hostile count.
  if ((bytes.size() - kMagicSize - 12) % 8 != 0 ||
      count != (bytes.size() - kMagicSize - 12) / 8) {
    return corrupt("wrong size");
  }
  size_t body = bytes.size() - 4;
  if (kChecksumsMustMatch &&
      UnmaskCrc(ReadU32(bytes.data() + body)) != Crc32c({bytes.data(), body})) {
    return corrupt("checksum mismatch");
  }
  std::vector<uint64_t> offsets(count);
  for (uint64_t i = 0; i < count; ++i) {
    offsets[i] = ReadU64(bytes.data() + kMagicSize + 8 + 8 * i);
  }
  return offsets;
}

}  // namespace spacebyte::data
