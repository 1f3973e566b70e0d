#include "checkpoint/checkpoint_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>

#include "absl/strings/str_cat.h"
#include "data/crc32c.h"
#include "data/file_read.h"
#include "checkpoint/save_fault.h"

namespace spacebyte::trainer {
namespace fs = std::filesystem;
namespace {

absl::Status Errno(const std::string& what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

struct DtypeName {
  torch::ScalarType type;
  const char* name;
};
constexpr DtypeName kDtypes[] = {{torch::kFloat, "float32"},
                                 {torch::kDouble, "float64"},
                                 {torch::kLong, "int64"},
                                 {torch::kBFloat16, "bfloat16"},
                                 {torch::kByte, "uint8"}};

const char* DtypeToName(torch::ScalarType t) {
  for (const auto& d : kDtypes) {
    if (d.type == t) return d.name;
  }
  TORCH_CHECK(false, "checkpoint cannot store dtype ", t);
}

absl::StatusOr<torch::ScalarType> NameToDtype(const std::string& name) {
  for (const auto& d : kDtypes) {
    if (name == d.name) return d.type;
  }
  return absl::DataLossError(absl::StrCat("unknown dtype '", name, "'"));
}

absl::Status WriteAll(int fd, const void* data, size_t size, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("cannot write", path);
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status FsyncPath(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) return Errno("cannot open", path);
  const int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? absl::OkStatus() : Errno("cannot fsync", path);
}

// Writes `contents` to `path` durably: temp file, fsync, rename, fsync dir.
absl::Status WriteFileAtomically(const std::string& path, const std::string& contents) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return Errno("cannot create", tmp);
  absl::Status s = WriteAll(fd, contents.data(), contents.size(), tmp);
  if (s.ok() && ::fsync(fd) != 0) s = Errno("cannot fsync", tmp);
  ::close(fd);
  if (!s.ok()) return s;
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Errno("cannot rename", tmp);
  return FsyncPath(fs::path(path).parent_path().string(), true);
}

// Size and CRC32C of a file, read in fixed-size chunks so that verifying a
// checkpoint of any size needs constant memory.
absl::Status CheckFile(const std::string& path, const proto::CheckpointFile& f) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::DataLossError(absl::StrCat(path, ": missing"));
  std::vector<char> buffer(4 << 20);
  uint32_t crc = 0;
  int64_t size = 0;
  ssize_t n;
  while ((n = ::read(fd, buffer.data(), buffer.size())) != 0) {
    if (n < 0) {
      if (errno == EINTR) continue;
      absl::Status s = Errno("cannot read", path);
      ::close(fd);
      return s;
    }
    crc = data::Crc32cExtend(crc, buffer.data(), static_cast<size_t>(n));
    size += n;
  }
  ::close(fd);
  if (size != f.size()) {
    return absl::DataLossError(absl::StrCat(path, ": size ", size, " bytes, manifest says ",
                                            f.size(), " (truncated or overwritten)"));
  }
  if (crc != f.crc32c()) {
    return absl::DataLossError(absl::StrCat(path, ": CRC32C mismatch (corrupt file)"));
  }
  return absl::OkStatus();
}

absl::Status ReadAt(const std::string& path, int64_t offset, int64_t size, char* out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open", path);
  while (size > 0) {
    const ssize_t n = ::pread(fd, out, static_cast<size_t>(size), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return absl::DataLossError(absl::StrCat(path, ": ends before byte ", offset + size,
                                              " (truncated since it was verified)"));
    }
    out += n;
    offset += n;
    size -= n;
  }
  ::close(fd);
  return absl::OkStatus();
}

// Every file the manifest lists has its recorded size and CRC32C.
absl::Status VerifyFiles(const std::string& step_dir, const proto::CheckpointManifest& manifest) {
  for (const proto::CheckpointFile& f : manifest.files()) {
    if (absl::Status s = CheckFile((fs::path(step_dir) / f.name()).string(), f); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

// Only the sizes: cheap enough for retention to run after every save.
bool FilesHaveManifestSizes(const std::string& step_dir,
                            const proto::CheckpointManifest& manifest) {
  for (const proto::CheckpointFile& f : manifest.files()) {
    std::error_code ec;
    const auto size = fs::file_size(fs::path(step_dir) / f.name(), ec);
    if (ec || static_cast<int64_t>(size) != f.size()) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<proto::CheckpointFile> WriteTensorFile(
    const std::string& path, int rank, const std::vector<NamedSlice>& slices,
    std::vector<proto::TensorSlice>* entries) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return Errno("cannot create", path);
  uint32_t crc = 0;
  int64_t offset = 0;
  absl::Status status;
  for (const NamedSlice& slice : slices) {
    const torch::Tensor t = slice.data.detach().to(torch::kCPU).contiguous();
    const size_t bytes = t.numel() * t.element_size();
    proto::TensorSlice& e = entries->emplace_back();
    e.set_name(slice.name);
    e.set_dtype(DtypeToName(t.scalar_type()));
    e.set_offset(offset);
    for (int64_t d = 0; d < t.dim(); ++d) {
      e.add_global_shape(slice.global_shape.empty() ? t.size(d) : slice.global_shape[d]);
      e.add_slice_start(slice.start.empty() ? 0 : slice.start[d]);
      e.add_slice_extent(t.size(d));
    }
    status = WriteAll(fd, t.data_ptr(), bytes, path);
    if (!status.ok()) break;
    crc = data::Crc32cExtend(crc, t.data_ptr(), bytes);
    offset += static_cast<int64_t>(bytes);
  }
  if (status.ok() && ::fsync(fd) != 0) status = Errno("cannot fsync", path);
  ::close(fd);
  if (!status.ok()) return status;
  proto::CheckpointFile file;
  file.set_name(fs::path(path).filename().string());
  file.set_rank(rank);
  file.set_size(offset);
  file.set_crc32c(crc);
  return file;
}

absl::Status CommitCheckpoint(const std::string& tmp_dir, const std::string& final_dir,
                              const proto::CheckpointManifest& manifest) {
  if (absl::Status s = WriteFileAtomically((fs::path(tmp_dir) / kManifestName).string(),
                                           SerializeManifest(manifest));
      !s.ok()) {
    return s;
  }
  MaybeDieAt("manifest", manifest.step());
  std::error_code ec;
  if (fs::exists(final_dir)) fs::remove_all(final_dir, ec);
  if (::rename(tmp_dir.c_str(), final_dir.c_str()) != 0) return Errno("cannot rename", tmp_dir);
  const std::string parent = fs::path(final_dir).parent_path().string();
  if (absl::Status s = FsyncPath(parent, true); !s.ok()) return s;
  MaybeDieAt("rename", manifest.step());
  absl::Status s = WriteFileAtomically((fs::path(parent) / "latest").string(),
                                       fs::path(final_dir).filename().string() + "\n");
  if (s.ok()) MaybeDieAt("latest", manifest.step());
  return s;
}

absl::Status PruneCheckpoints(const std::string& checkpoints_dir, int keep,
                              int64_t newest_step, std::set<int64_t>* verified) {
  std::vector<std::pair<int64_t, std::string>> steps;  // (step, name), every step dir
  std::vector<std::string> stale;                      // saves that never committed
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(checkpoints_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (std::optional<int64_t> step = StepOfDirName(name)) {
      steps.emplace_back(*step, name);
    } else if (name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0 &&
               StepOfDirName(name.substr(0, name.size() - 4))) {
      stale.push_back(name);  // no save is in flight while the newest commits
    }
  }
  std::sort(steps.rbegin(), steps.rend());
  // Keep the newest `keep` valid checkpoints up to the one just committed;
  // anything older than the oldest of them goes, damaged or not. Later steps
  // (left by a run that resumed from an earlier checkpoint because they were
  // damaged) stay for that step's next save to replace.
  int valid = 0;
  for (const auto& [step, name] : steps) {
    if (step > newest_step) continue;
    const std::string dir = (fs::path(checkpoints_dir) / name).string();
    if (valid >= std::max(keep, 1)) {
      stale.push_back(name);
      continue;
    }
    // A size check is enough for a checkpoint this process has verified;
    // any other is checked as resume checks it (CRC), or a damaged newer
    // one would count as valid and cost a complete older one.
    const bool known = verified->count(step) > 0;
    absl::StatusOr<CheckpointReader> reader = OpenStepDir(dir, /*verify=*/!known);
    if (!reader.ok() || (known && !FilesHaveManifestSizes(dir, reader->manifest()))) continue;
    verified->insert(step);
    ++valid;
  }
  for (const std::string& name : stale) {
    fs::remove_all(fs::path(checkpoints_dir) / name, ec);
    if (ec) {
      return absl::InternalError(absl::StrCat("cannot remove old checkpoint ",
                                              checkpoints_dir, "/", name, ": ", ec.message()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<CheckpointReader> OpenStepDir(const std::string& step_dir, bool verify) {
  const std::string manifest_path = (fs::path(step_dir) / kManifestName).string();
  absl::StatusOr<std::string> bytes = data::ReadWholeFile(manifest_path);
  if (absl::IsNotFound(bytes.status())) {
    return absl::NotFoundError(absl::StrCat(step_dir, " is not a complete checkpoint (no ",
                                            kManifestName, ")"));
  }
  if (!bytes.ok()) return bytes.status();
  absl::StatusOr<proto::CheckpointManifest> manifest = ParseManifest(manifest_path, *bytes);
  if (!manifest.ok()) return manifest.status();
  if (verify) {
    if (absl::Status s = VerifyFiles(step_dir, *manifest); !s.ok()) return s;
  }
  return CheckpointReader::FromManifest(step_dir, *std::move(manifest));
}

absl::StatusOr<CheckpointReader> FindLatestCheckpoint(const std::string& checkpoints_dir,
                                                      std::vector<std::string>* skipped) {
  std::vector<std::pair<int64_t, std::string>> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(checkpoints_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (std::optional<int64_t> step = StepOfDirName(name)) {
      names.emplace_back(*step, name);
    } else if (name.size() > 4 && name.substr(name.size() - 4) == ".tmp") {
      skipped->push_back(absl::StrCat((fs::path(checkpoints_dir) / name).string(),
                                      ": unfinished save (no commit)"));
    }
  }
  std::sort(names.rbegin(), names.rend());
  for (const auto& [step, name] : names) {
    const std::string dir = (fs::path(checkpoints_dir) / name).string();
    absl::StatusOr<CheckpointReader> reader = OpenStepDir(dir);
    if (reader.ok()) return reader;
    skipped->push_back(std::string(reader.status().message()));
  }
  return absl::NotFoundError(
      absl::StrCat("no complete checkpoint in ", checkpoints_dir));
}

void ReportSkippedCheckpoints(const std::vector<std::string>& skipped) {
  // One write per line: stderr is unbuffered, and under mpirun pieces of a
  // line written separately interleave with other output.
  for (const std::string& why : skipped) {
    std::cerr << absl::StrCat("spacebyte: skipping ", why, "\n") << std::flush;
  }
}

absl::StatusOr<CheckpointReader> CheckpointReader::Open(const std::string& path) {
  if (fs::exists(fs::path(path) / kManifestName) || StepOfDirName(fs::path(path).filename())) {
    return OpenStepDir(path);
  }
  const std::string checkpoints =
      fs::exists(fs::path(path) / "checkpoints") ? (fs::path(path) / "checkpoints").string()
                                                 : path;
  if (!fs::is_directory(checkpoints)) {
    return absl::NotFoundError(absl::StrCat("no checkpoint at ", path));
  }
  std::vector<std::string> skipped;
  absl::StatusOr<CheckpointReader> reader = FindLatestCheckpoint(checkpoints, &skipped);
  ReportSkippedCheckpoints(skipped);
  return reader;
}

CheckpointReader CheckpointReader::FromManifest(std::string dir,
                                                proto::CheckpointManifest manifest) {
  CheckpointReader reader;
  reader.dir_ = std::move(dir);
  reader.manifest_ = std::move(manifest);
  return reader;
}

bool CheckpointReader::Has(const std::string& name) const {
  for (const auto& t : manifest_.tensors()) {
    if (t.name() == name) return true;
  }
  return false;
}

// Elements in a box of these extents (validated: no overflow).
int64_t Volume(const google::protobuf::RepeatedField<int64_t>& extents) {
  int64_t n = 1;
  for (int64_t e : extents) n *= e;
  return n;
}

absl::StatusOr<torch::Tensor> CheckpointReader::Read(const std::string& name) const {
  // The manifest was validated: every slice lies inside its tensor and file.
  // Before allocating the tensor, its slices must add up to its size, so that
  // the allocation is bounded by bytes the files hold: a re-signed shape of
  // 2^40 × 64 with small slices tried to allocate 281 TB and aborted.
  int64_t volume = -1, sliced = 0;
  for (const proto::TensorSlice& e : manifest_.tensors()) {
    if (e.name() != name) continue;
    if (volume < 0) volume = Volume(e.global_shape());
    sliced += Volume(e.slice_extent());
  }
  if (volume >= 0 && sliced != volume) {
    return absl::DataLossError(absl::StrCat(dir_, "/", kManifestName, ": the slices of ", name,
                                            " do not cover it"));
  }
  torch::Tensor full, covered;
  for (const proto::TensorSlice& e : manifest_.tensors()) {
    if (e.name() != name) continue;
    if (!full.defined()) {
      const std::vector<int64_t> shape(e.global_shape().begin(), e.global_shape().end());
      full = torch::zeros(shape, torch::dtype(*NameToDtype(e.dtype())));
      covered = torch::zeros(shape, torch::kBool);
    }
    torch::Tensor view = full, mask = covered;
    for (int d = 0; d < e.slice_start_size(); ++d) {
      view = view.narrow(d, e.slice_start(d), e.slice_extent(d));
      mask = mask.narrow(d, e.slice_start(d), e.slice_extent(d));
    }
    const std::string path = (fs::path(dir_) / manifest_.files(e.file()).name()).string();
    if (mask.any().item<bool>()) {
      return absl::DataLossError(absl::StrCat(dir_, "/", kManifestName, ": slices of ", name,
                                              " overlap"));
    }
    torch::Tensor slice = torch::empty(view.sizes(), full.options());
    if (absl::Status s = ReadAt(path, e.offset(), slice.numel() * slice.element_size(),
                                static_cast<char*>(slice.data_ptr()));
        !s.ok()) {
      return s;
    }
    view.copy_(slice);
    mask.fill_(true);
  }
  if (!full.defined()) {
    return absl::NotFoundError(absl::StrCat(dir_, ": checkpoint has no tensor ", name));
  }
  if (!covered.all().item<bool>()) {
    return absl::DataLossError(absl::StrCat(dir_, "/", kManifestName, ": the slices of ", name,
                                            " do not cover it"));
  }
  return full;
}

}  // namespace spacebyte::trainer
