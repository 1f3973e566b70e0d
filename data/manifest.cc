#include "data/manifest.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/file_read.h"
#include "data/hash64.h"
#include "data/shard_index.h"
#include "google/protobuf/text_format.h"

namespace spacebyte::data {

std::string ManifestPath(const std::string& dir) { return dir + "/manifest.pbtxt"; }

absl::Status WriteManifest(const std::string& dir, const proto::DatasetManifest& manifest) {
  std::string text;
  google::protobuf::TextFormat::PrintToString(manifest, &text);
  std::ofstream out(ManifestPath(dir), std::ios::trunc);
  out << text;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", ManifestPath(dir)));
  return absl::OkStatus();
}

absl::StatusOr<proto::DatasetManifest> ReadManifest(const std::string& dir, bool allow_truncated) {
  const std::string path = ManifestPath(dir);
  absl::StatusOr<std::string> read = ReadWholeFile(path);
  if (absl::IsNotFound(read.status())) {
    return absl::NotFoundError(absl::StrCat("cannot open ", path,
                                            " (is ", dir, " made by `spacebyte prep`?)"));
  }
  if (!read.ok()) return read.status();
  const std::string& text = *read;
  proto::DatasetManifest manifest;
  if (!google::protobuf::TextFormat::ParseFromString(text, &manifest)) {
    return absl::DataLossError(absl::StrCat("cannot parse ", path));
  }
  // A version this build does not know may mean fields it would ignore.
  if (manifest.format_version() != 1) {
    return absl::DataLossError(absl::StrCat(path, ": format version ", manifest.format_version(),
                                            " is not the version this spacebyte reads (1)"));
  }
  std::set<std::string> files;
  for (const proto::ShardInfo& shard : manifest.shards()) {
    if (shard.file().empty() || shard.file().find('/') != std::string::npos ||
        shard.file()[0] == '.') {
      return absl::DataLossError(absl::StrCat(path, ": shard file '", shard.file(),
                                              "' is not a file of ", dir));
    }
    if (!files.insert(shard.file()).second) {
      return absl::DataLossError(absl::StrCat(path, ": shard ", shard.file(), " is listed twice"));
    }
    // A shard the loader would skip (no language, another split) loses its
    // data without a word.
    if (shard.split() != "train" && shard.split() != "validation" && shard.split() != "test") {
      return absl::DataLossError(absl::StrCat(path, ": shard ", shard.file(), " has split '",
                                              shard.split(), "', not train|validation|test"));
    }
    if (shard.languages_size() != 1) {
      return absl::DataLossError(absl::StrCat(path, ": shard ", shard.file(), " lists ",
                                              shard.languages_size(), " languages, not 1"));
    }
    const proto::LanguageBytes& language = shard.languages(0);
    if (shard.records() < 0 || shard.bytes() < 0 || shard.file_bytes() < 0 ||
        language.documents() < 0 || language.bytes() < 0 || language.invalid_utf8_bytes() < 0) {
      return absl::DataLossError(absl::StrCat(path, ": shard ", shard.file(),
                                              " has a negative size or record count"));
    }
    const std::string file = dir + "/" + shard.file();
    std::error_code ec;
    const auto size = std::filesystem::file_size(file, ec);
    if (ec) return absl::NotFoundError(absl::StrCat("missing shard ", file));
    if (static_cast<int64_t>(size) != shard.file_bytes() && !allow_truncated) {
      return absl::DataLossError(absl::StrCat(
          file, ": ", size < static_cast<uintmax_t>(shard.file_bytes()) ? "truncated" : "wrong size",
          " at byte offset ", size, " (manifest says ", shard.file_bytes(), " bytes)"));
    }
    if (!std::filesystem::exists(IndexPath(file))) {
      return absl::NotFoundError(absl::StrCat("missing shard index ", IndexPath(file)));
    }
  }
  return manifest;
}

std::string DatasetFingerprint(const proto::DatasetManifest& manifest) {
  std::string text;
  google::protobuf::TextFormat::PrintToString(manifest, &text);
  return absl::StrFormat("%016x", Hash64(text));
}

}  // namespace spacebyte::data
