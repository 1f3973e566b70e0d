#include "parallel/collective_watch.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "parallel/mpi_env.h"

namespace spacebyte::parallel {
namespace {

using Clock = std::chrono::steady_clock;

struct Began {
  Clock::time_point at;
  const char* what;
};

// The waits in progress on this process (any thread may be in one), and the
// thread that checks their age.
class Watch {
 public:
  void SetLimit(double seconds) {
    std::lock_guard<std::mutex> lock(mutex_);
    limit_s_ = seconds;
    if (seconds > 0 && !thread_started_) {
      thread_started_ = true;
      // Lives as long as the process; AbortAll ends it with everything else.
      std::thread([this] { Run(); }).detach();
    }
    wake_.notify_all();
  }
  double limit() {
    std::lock_guard<std::mutex> lock(mutex_);
    return limit_s_;
  }

  uint64_t Begin(const char* what) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (limit_s_ <= 0) return 0;
    const uint64_t id = ++last_id_;
    waits_.emplace(id, Began{Clock::now(), what});
    return id;
  }
  void End(uint64_t id) {
    std::lock_guard<std::mutex> lock(mutex_);
    waits_.erase(id);
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      // Checked ten times per limit (at most once a second): a wait ends the
      // job within a tenth of the limit after outlasting it.
      const double period = std::clamp(limit_s_ / 10, 0.01, 1.0);
      wake_.wait_for(lock, std::chrono::duration<double>(period));
      if (limit_s_ <= 0 || waits_.empty()) continue;
      // Ids grow with time: the first is the oldest wait.
      const Began& oldest = waits_.begin()->second;
      const double waited = std::chrono::duration<double>(Clock::now() - oldest.at).count();
      if (waited < limit_s_) continue;
      AbortAll(absl::DeadlineExceededError(absl::StrCat(
          "waited more than ", limit_s_, " s in ", oldest.what,
          " for the other ranks (parallel.collective_timeout_s): one of them is stuck or gone; "
          "ending the job")));
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  double limit_s_ = 0;
  bool thread_started_ = false;
  uint64_t last_id_ = 0;
  std::map<uint64_t, Began> waits_;
};

Watch& TheWatch() {
  static Watch* watch = new Watch;  // never destroyed: its thread may still run at exit
  return *watch;
}

}  // namespace

void SetCollectiveTimeout(double seconds) { TheWatch().SetLimit(seconds); }
double CollectiveTimeout() { return TheWatch().limit(); }

CollectiveWait::CollectiveWait(const char* what) : id_(TheWatch().Begin(what)) {}
CollectiveWait::~CollectiveWait() {
  if (id_ != 0) TheWatch().End(id_);
}

}  // namespace spacebyte::parallel
