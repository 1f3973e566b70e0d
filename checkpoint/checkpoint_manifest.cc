#include "checkpoint/checkpoint_manifest.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/crc32c.h"

namespace spacebyte::trainer {
namespace {

// The tag byte of manifest_crc32c (field 11, wire type fixed32) and the four
// bytes of its value: the last five bytes of a version >= 2 manifest.
constexpr char kCrcTag = (11 << 3) | 5;
constexpr size_t kCrcTrailerBytes = 5;

// Product of `dims` if every one is >= 0 and the product fits in 2^62.
std::optional<int64_t> CheckedProduct(const google::protobuf::RepeatedField<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0 || __builtin_mul_overflow(n, d, &n) || n > (int64_t{1} << 62)) return std::nullopt;
  }
  return n;
}

// Everything a reader relies on: file names stay inside the directory, every
// slice lies inside its tensor and its bytes inside its file, and the slices
// of one tensor agree on its shape and dtype.
absl::Status ValidateManifest(const proto::CheckpointManifest& m) {
  auto bad = [](const std::string& why) { return absl::DataLossError(why); };
  if (m.dp() < 0 || m.tp() < 0 || m.step() < 0) {
    return bad(absl::StrCat("step ", m.step(), ", dp ", m.dp(), ", tp ", m.tp(),
                            " are not a saved layout"));
  }
  std::set<std::string> names;
  for (const proto::CheckpointFile& f : m.files()) {
    if (f.name().empty() || f.name().find('/') != std::string::npos || f.name() == "." ||
        f.name() == ".." || f.name() == kManifestName || !names.insert(f.name()).second) {
      return bad(absl::StrCat("file name '", f.name(), "' is not a distinct file of this directory"));
    }
    if (f.size() < 0) return bad(absl::StrCat(f.name(), " has negative size ", f.size()));
  }
  std::map<std::string, const proto::TensorSlice*> first;
  // Per file, the byte ranges of its slices: writers lay them end to end.
  std::vector<std::vector<std::pair<int64_t, int64_t>>> ranges(m.files_size());
  for (const proto::TensorSlice& e : m.tensors()) {
    const std::string where = absl::StrCat("tensor ", e.name());
    const int64_t element = DtypeSize(e.dtype());
    if (element == 0) return bad(absl::StrCat(where, ": unknown dtype '", e.dtype(), "'"));
    if (e.file() < 0 || e.file() >= m.files_size()) {
      return bad(absl::StrCat(where, ": file index ", e.file(), " of ", m.files_size()));
    }
    const int dims = e.global_shape_size();
    if (dims > 8 || e.slice_start_size() != dims || e.slice_extent_size() != dims) {
      return bad(absl::StrCat(where, ": shape, start and extent disagree in rank"));
    }
    const std::optional<int64_t> total = CheckedProduct(e.global_shape());
    const std::optional<int64_t> count = CheckedProduct(e.slice_extent());
    if (!total || !count) return bad(absl::StrCat(where, ": impossible shape"));
    for (int d = 0; d < dims; ++d) {
      if (e.slice_start(d) < 0 || e.slice_start(d) > e.global_shape(d) - e.slice_extent(d)) {
        return bad(absl::StrCat(where, ": slice outside the tensor in dimension ", d));
      }
    }
    const int64_t size = m.files(e.file()).size();
    if (e.offset() < 0 || e.offset() > size || *count > (size - e.offset()) / element) {
      return bad(absl::StrCat(where, ": bytes at offset ", e.offset(), " run past the end of ",
                              m.files(e.file()).name()));
    }
    ranges[e.file()].emplace_back(e.offset(), *count * element);
    auto [it, fresh] = first.emplace(e.name(), &e);
    if (!fresh && (it->second->dtype() != e.dtype() ||
                   !std::equal(e.global_shape().begin(), e.global_shape().end(),
                               it->second->global_shape().begin(),
                               it->second->global_shape().end()))) {
      return bad(absl::StrCat(where, ": slices disagree on shape or dtype"));
    }
  }
  // Slices that share bytes or leave some unread mean an edited offset,
  // which would otherwise load other bytes as weights without a word.
  for (int f = 0; f < m.files_size(); ++f) {
    std::sort(ranges[f].begin(), ranges[f].end());
    int64_t end = 0;
    for (const auto& [offset, length] : ranges[f]) {
      if (offset != end) break;
      end += length;
    }
    if (end != m.files(f).size()) {
      return bad(absl::StrCat("the slices of ", m.files(f).name(),
                              " overlap or leave bytes unread (an edited offset)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string StepDirName(int64_t step) { return absl::StrFormat("step_%08d", step); }

std::optional<int64_t> StepOfDirName(const std::string& name) {
  constexpr size_t kPrefix = 5;  // "step_"
  if (name.size() < kPrefix + 8 || name.size() > kPrefix + 18 || name.rfind("step_", 0) != 0 ||
      !std::all_of(name.begin() + kPrefix, name.end(), ::isdigit)) {
    return std::nullopt;
  }
  const int64_t step = std::stoll(name.substr(kPrefix));
  if (StepDirName(step) != name) return std::nullopt;  // one name per step
  return step;
}

int64_t DtypeSize(const std::string& dtype) {
  static const std::map<std::string, int64_t> kSizes = {
      {"float32", 4}, {"float64", 8}, {"int64", 8}, {"bfloat16", 2}, {"uint8", 1}};
  auto it = kSizes.find(dtype);
  return it == kSizes.end() ? 0 : it->second;
}

ManifestBuilder::ManifestBuilder(int64_t step, const proto::RunConfig& config, int dp, int tp) {
  manifest_.set_step(step);
  *manifest_.mutable_config() = config;
  manifest_.set_dp(dp);
  manifest_.set_tp(tp);
}

void ManifestBuilder::SetProgress(const std::string& loader_state, int64_t bytes_seen,
                                  const std::string& dataset_fingerprint) {
  manifest_.set_loader_state(loader_state);
  manifest_.set_bytes_seen(bytes_seen);
  manifest_.set_dataset_fingerprint(dataset_fingerprint);
}

std::string SerializeManifest(proto::CheckpointManifest manifest) {
  manifest.set_format_version(kCheckpointFormatVersion);
  manifest.clear_manifest_crc32c();
  std::string bytes = manifest.SerializeAsString();
  const uint32_t crc = data::Crc32c(bytes);
  bytes.push_back(kCrcTag);
  for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<char>((crc >> (8 * i)) & 0xff));
  return bytes;
}

absl::StatusOr<proto::CheckpointManifest> ParseManifest(const std::string& path,
                                                        const std::string& bytes) {
  auto corrupt = [&](const std::string& why) {
    return absl::DataLossError(absl::StrCat(path, ": corrupt manifest (", why, ")"));
  };
  // The checksum first, so damaged bytes never reach the parser.
  const size_t body = bytes.size() - std::min(bytes.size(), kCrcTrailerBytes);
  const bool signed_manifest = bytes.size() >= kCrcTrailerBytes && bytes[body] == kCrcTag;
  if (signed_manifest) {
    uint32_t crc = 0;
    for (int i = 0; i < 4; ++i) crc |= uint32_t{static_cast<uint8_t>(bytes[body + 1 + i])} << (8 * i);
    if (data::kChecksumsMustMatch && data::Crc32c(std::string_view(bytes.data(), body)) != crc) {
      return corrupt("checksum mismatch");
    }
  }
  proto::CheckpointManifest manifest;
  if (!manifest.ParseFromString(bytes)) return corrupt("not a manifest");
  // Version 1 predates the checksum; any other version must carry one.
  const int version = manifest.format_version();
  if (version > kCheckpointFormatVersion) {
    return absl::DataLossError(absl::StrCat(path, ": format version ", version,
                                            " is newer than this spacebyte reads (",
                                            kCheckpointFormatVersion, ")"));
  }
  if (version != 1 && !(signed_manifest && manifest.has_manifest_crc32c())) {
    return corrupt(absl::StrCat("format version ", version, " without a checksum"));
  }
  if (absl::Status s = ValidateManifest(manifest); !s.ok()) {
    return absl::DataLossError(absl::StrCat(path, ": corrupt manifest: ", s.message()));
  }
  return manifest;
}

}  // namespace spacebyte::trainer
