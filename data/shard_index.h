#ifndef SPACEBYTE_DATA_SHARD_INDEX_H_
#define SPACEBYTE_DATA_SHARD_INDEX_H_

// The index beside each shard, `<shard>.idx`, for random access by record:
//   "SBIDX001" | u64 count | count x u64 record offsets | u32 masked CRC32C
// of everything before it (all little-endian).

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace spacebyte::data {

std::string IndexPath(const std::string& shard_path);

absl::Status WriteShardIndex(const std::string& path,
                             const std::vector<uint64_t>& offsets);

// Record offsets; an error names the file when it is missing or corrupt.
absl::StatusOr<std::vector<uint64_t>> ReadShardIndex(const std::string& path);
// The same from the file's bytes; `path` names it in messages.
absl::StatusOr<std::vector<uint64_t>> ParseShardIndex(const std::string& path,
                                                      const std::string& bytes);

}  // namespace spacebyte::data

#endif  // SPACEBYTE_DATA_SHARD_INDEX_H_
