#ifndef SPACEBYTE_DATA_MANIFEST_H_
#define SPACEBYTE_DATA_MANIFEST_H_

// The dataset manifest, `<dir>/manifest.pbtxt` (protobuf text format so a
// person can read it), naming every shard of a `spacebyte prep` output.

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/data.pb.h"

namespace spacebyte::data {

std::string ManifestPath(const std::string& dir);

absl::Status WriteManifest(const std::string& dir, const proto::DatasetManifest& manifest);

// Reads the manifest and checks that every shard and index exists with the
// recorded size, so a truncated shard is reported before training starts
// (unless `allow_truncated`: then its missing records are skipped later).
absl::StatusOr<proto::DatasetManifest> ReadManifest(const std::string& dir,
                                                    bool allow_truncated = false);

// A hex digest of the manifest (which holds every shard's size and CRC32C):
// equal for datasets with the same shards, different once any byte of any
// shard differs.
std::string DatasetFingerprint(const proto::DatasetManifest& manifest);

}  // namespace spacebyte::data

#endif  // SPACEBYTE_DATA_MANIFEST_H_
