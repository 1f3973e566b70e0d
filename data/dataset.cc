#include "data/dataset.h"

#include "absl/strings/str_cat.h"
#include "data/manifest.h"

namespace spacebyte::data {

absl::StatusOr<std::map<std::string, LanguageShards>> OpenSplit(
    const std::string& dir, const std::string& split, bool allow_truncated) {
  absl::StatusOr<proto::DatasetManifest> manifest = ReadManifest(dir, allow_truncated);
  if (!manifest.ok()) return manifest.status();
  std::map<std::string, LanguageShards> languages;
  for (const proto::ShardInfo& shard : manifest->shards()) {
    if (shard.split() != split || shard.records() == 0 || shard.languages_size() != 1) continue;
    LanguageShards& entry = languages[shard.languages(0).language()];
    entry.shards.push_back({dir + "/" + shard.file(), shard.records()});
    entry.bytes += shard.bytes();
  }
  if (languages.empty()) {
    return absl::NotFoundError(absl::StrCat(ManifestPath(dir), ": no records in split '",
                                            split, "'"));
  }
  return languages;
}

}  // namespace spacebyte::data
