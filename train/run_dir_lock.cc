#include "train/run_dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace spacebyte::trainer {

absl::StatusOr<RunDirLock> RunDirLock::Acquire(const std::string& run_dir) {
  const std::string path = (std::filesystem::path(run_dir) / "lock").string();
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    char holder[256] = {};
    const ssize_t n = ::pread(fd, holder, sizeof(holder) - 1, 0);
    ::close(fd);
    if (error != EWOULDBLOCK) {
      return absl::InternalError(absl::StrCat("cannot lock ", path, ": ", std::strerror(error)));
    }
    return absl::FailedPreconditionError(absl::StrCat(
        run_dir, " is in use by another training job (",
        absl::StripAsciiWhitespace(std::string(holder, n > 0 ? n : 0)),
        "); two jobs in one run directory would delete each other's checkpoints"));
  }
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  const std::string me = absl::StrCat("pid ", ::getpid(), " on ", host, "\n");
  // Who holds it, for the message above; the lock itself is the flock.
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, me.data(), me.size(), 0) < 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    return absl::InternalError(absl::StrCat("cannot write ", path, ": ", why));
  }
  return RunDirLock(fd);
}

RunDirLock::~RunDirLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace spacebyte::trainer
