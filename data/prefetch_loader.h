#ifndef SPACEBYTE_DATA_PREFETCH_LOADER_H_
#define SPACEBYTE_DATA_PREFETCH_LOADER_H_

// Runs a Loader on a background thread, `prefetch` batches ahead, so the
// trainer never waits on I/O. SaveState is the state after the last batch
// handed out, not after the ones queued ahead.

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "data/loader.h"

namespace spacebyte::data {

class PrefetchLoader {
 public:
  // Starts prefetching at once; restore state with Loader::RestoreState
  // before handing the loader over.
  explicit PrefetchLoader(std::unique_ptr<Loader> loader);
  ~PrefetchLoader();

  absl::StatusOr<Batch> Next();
  const std::string& SaveState() const { return state_; }

 private:
  void Run();
  // The loader's next batch; an exception (out of memory) as its error, since
  // one escaping this thread would abort the process.
  absl::StatusOr<Batch> NextOrError();

  std::unique_ptr<Loader> loader_;
  std::string state_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<absl::StatusOr<Batch>> queue_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace spacebyte::data

#endif  // SPACEBYTE_DATA_PREFETCH_LOADER_H_
