#include "parallel/collective_watch.h"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "parallel/mpi_env.h"

namespace spacebyte::parallel {
namespace {

using Clock = std::chrono::steady_clock;

thread_local const char* current_phase = "";

struct Began {
  Clock::time_point at;
  const char* what;
  const char* phase;
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
    waits_.emplace(id, Began{Clock::now(), what, current_phase});
    return id;
  }
  void End(uint64_t id) {
    std::lock_guard<std::mutex> lock(mutex_);
    waits_.erase(id);
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mutex_);
    SuspensionClock suspension;
    for (;;) {
      if (limit_s_ <= 0) {
        wake_.wait(lock, [this] { return limit_s_ > 0; });
        suspension.Restart();
      }
      // Checked ten times per limit (at most once a second): a wait ends the
      // job within a tenth of the limit after outlasting it.
      const auto period = std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(std::clamp(limit_s_ / 10, 0.01, 1.0)));
      wake_.wait_for(lock, period);
      suspension.Tick(period);
      for (auto& [id, wait] : waits_) wait.at = suspension.Forgiven(wait.at);
      if (limit_s_ <= 0 || waits_.empty()) continue;
      // Ids grow with time: the first is the oldest wait.
      const Began oldest = waits_.begin()->second;
      if (Clock::now() - oldest.at < std::chrono::duration<double>(limit_s_)) continue;
      const std::string message = absl::StrCat(
          "waited more than ", limit_s_, " s in ", oldest.what,
          *oldest.phase != '\0' ? absl::StrCat(" (", oldest.phase, ")") : "",
          " for the other ranks (parallel.collective_timeout_s): one of them is stuck or gone, "
          "or needs longer (then raise the limit); ending the job");
      lock.unlock();  // the other threads' waits end freely while the job ends
      AbortAll(absl::DeadlineExceededError(message));
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

CollectivePhase::CollectivePhase(const char* what) : outer_(current_phase) {
  current_phase = what;
}
CollectivePhase::~CollectivePhase() { current_phase = outer_; }
const char* CurrentCollectivePhase() { return current_phase; }

void SuspensionClock::Tick(Clock::duration period) {
  const Clock::time_point now = Clock::now();
  const Clock::duration late = now - last_ - period;
  last_ = now;
  // A busy machine delays a tick by milliseconds, not by seconds.
  const Clock::duration threshold =
      std::max<Clock::duration>(5 * period, std::chrono::seconds(2));
  stopped_ = late > threshold ? late : Clock::duration::zero();
}

}  // namespace spacebyte::parallel
