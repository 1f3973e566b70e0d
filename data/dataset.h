#ifndef SPACEBYTE_DATA_DATASET_H_
#define SPACEBYTE_DATA_DATASET_H_

// A `spacebyte prep` directory seen from the loaders: per split, each
// language's shards in manifest order and its text bytes.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/language_stream.h"

namespace spacebyte::data {

struct LanguageShards {
  std::vector<ShardRef> shards;
  int64_t bytes = 0;
};

// Languages (sorted) of `split` with at least one record.
absl::StatusOr<std::map<std::string, LanguageShards>> OpenSplit(
    const std::string& dir, const std::string& split, bool allow_truncated);

}  // namespace spacebyte::data

#endif  // SPACEBYTE_DATA_DATASET_H_
