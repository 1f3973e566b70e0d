#ifndef SPACEBYTE_TRAIN_RUN_DIR_LOCK_H_
#define SPACEBYTE_TRAIN_RUN_DIR_LOCK_H_

// One training job per run directory. Two jobs writing one run directory
// would prune and overwrite each other's checkpoints, so rank 0 holds an
// exclusive flock(2) on RUN_DIR/lock for as long as it trains. The kernel
// drops the lock when the process ends, however it ends, so a crashed or
// preempted job never leaves a stale lock behind.

#include <string>

#include "absl/status/statusor.h"

namespace spacebyte::trainer {

class RunDirLock {
 public:
  // Fails, naming the holder's pid and host, if another job holds it.
  static absl::StatusOr<RunDirLock> Acquire(const std::string& run_dir);

  RunDirLock(RunDirLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  RunDirLock& operator=(RunDirLock&&) = delete;
  ~RunDirLock();

 private:
  explicit RunDirLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_TRAIN_RUN_DIR_LOCK_H_
