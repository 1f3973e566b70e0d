#include "data/dir_swap.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace spacebyte::data {
namespace fs = std::filesystem;
namespace {

absl::Status Sync(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot open ", path.string(), ": ", std::strerror(errno)));
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return absl::InternalError(absl::StrCat("cannot sync ", path.string(), ": ", std::strerror(errno)));
  return absl::OkStatus();
}

// Every file, then the directory that names them.
absl::Status SyncTree(const fs::path& dir) {
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::recursive_directory_iterator(dir, ec)) {
    if (!entry.is_regular_file() && !entry.is_directory()) continue;
    if (absl::Status s = Sync(entry.path()); !s.ok()) return s;
  }
  if (ec) return absl::InternalError(absl::StrCat("cannot list ", dir.string(), ": ", ec.message()));
  return Sync(dir);
}

fs::path Parent(const fs::path& dir) {
  const fs::path parent = fs::absolute(dir).parent_path();
  return parent.empty() ? fs::path(".") : parent;
}

}  // namespace

std::string StagingDirOf(const std::string& dir) {
  return fs::path(dir).lexically_normal().string() + ".staging";
}

absl::StatusOr<std::string> MakeStagingDir(const std::string& dir) {
  const fs::path staging = StagingDirOf(dir);
  std::error_code ec;
  // Removed only when it is ours: it used to be cleared whatever it held,
  // a user's results.staging or prep's own input included.
  if (fs::exists(fs::symlink_status(staging, ec)) && !fs::exists(staging / kStagingMarker, ec)) {
    return absl::FailedPreconditionError(
        absl::StrCat(staging.string(), " exists and was not left by spacebyte (no ",
                     kStagingMarker, " in it); move it away or delete it"));
  }
  fs::remove_all(staging, ec);
  if (!ec) fs::create_directories(staging, ec);
  if (!ec) std::ofstream(staging / kStagingMarker).put('\n');
  if (ec || !fs::exists(staging / kStagingMarker)) {
    return absl::InternalError(absl::StrCat("cannot create ", staging.string(), ": ",
                                            ec ? ec.message() : "cannot write its marker"));
  }
  return staging.string();
}

absl::Status SwapInStagingDir(const std::string& staging, const std::string& dir) {
  if (absl::Status s = SyncTree(staging); !s.ok()) return s;
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    // One atomic step: `dir` is the new version, `staging` the old one.
    if (::renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, dir.c_str(), RENAME_EXCHANGE) != 0) {
      if (errno != EINVAL && errno != ENOSYS) {
        return absl::InternalError(absl::StrCat("cannot swap ", staging, " into ", dir, ": ",
                                                std::strerror(errno)));
      }
      // A filesystem without the exchange: two renames, with a moment in
      // which the old version is only at `dir.old`.
      const std::string old = dir + ".old";
      fs::remove_all(old, ec);
      if (::rename(dir.c_str(), old.c_str()) != 0 || ::rename(staging.c_str(), dir.c_str()) != 0) {
        return absl::InternalError(absl::StrCat("cannot replace ", dir, ": ", std::strerror(errno)));
      }
      fs::remove_all(old, ec);
    }
  } else if (::rename(staging.c_str(), dir.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot rename ", staging, " to ", dir, ": ",
                                            std::strerror(errno)));
  }
  if (absl::Status s = Sync(Parent(dir)); !s.ok()) return s;
  fs::remove_all(staging, ec);  // the old version, when there was one
  return absl::OkStatus();
}

}  // namespace spacebyte::data
