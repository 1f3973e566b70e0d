#ifndef SPACEBYTE_DATA_SHARD_SET_H_
#define SPACEBYTE_DATA_SHARD_SET_H_

// Shard files of a dataset being written: one series per (split, language),
// `<split>-<language>-NNNNN.tfrecord`, each closed once it reaches the
// target size.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "data/record_writer.h"
#include "proto/data.pb.h"

namespace spacebyte::data {

class ShardSet {
 public:
  ShardSet(std::string dir, int64_t shard_bytes) : dir_(std::move(dir)), shard_bytes_(shard_bytes) {}

  absl::Status Add(const std::string& split, const std::string& language,
                   const std::string& payload, int64_t text_bytes, int64_t invalid_bytes);
  // Closes every open shard; the manifest then lists them all.
  absl::Status Finish(proto::DatasetManifest* manifest);

 private:
  struct Open {
    std::unique_ptr<RecordWriter> writer;
    proto::ShardInfo info;
    int64_t next_number = 0;
  };
  absl::Status Close(Open* open, proto::DatasetManifest* manifest);

  std::string dir_;
  int64_t shard_bytes_;
  std::map<std::pair<std::string, std::string>, Open> open_;
  proto::DatasetManifest closed_;
};

}  // namespace spacebyte::data

#endif  // SPACEBYTE_DATA_SHARD_SET_H_
