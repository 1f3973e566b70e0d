#ifndef SPACEBYTE_KERNELS_PHASE_TIMER_H_
#define SPACEBYTE_KERNELS_PHASE_TIMER_H_

#include <ATen/record_function.h>
#include <time.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace spacebyte::trainer {

// Wall time and process CPU time (all threads) per named phase of a
// training step, for `spacebyte bench --profile`. CPU time stays meaningful
// when other processes share the cores and stretch the wall time. Phases nest: a scope opened inside another is recorded as its
// child, so every row has an inclusive and a self time. Collection is off by
// default and then a scope costs one branch. Single-threaded by design: the
// training loop, including CPU autograd, runs on the calling thread.
// CPU seconds used so far by all threads of this process.
inline double ProcessCpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

class PhaseTimer {
 public:
  struct Row {
    std::string path;  // "backward/local blocks"
    int depth = 0;
    double total_s = 0, self_s = 0;          // wall
    double cpu_total_s = 0, cpu_self_s = 0;  // process CPU
    int64_t calls = 0;
  };

  // `sync`, when given, runs as each scope opens and closes: on a GPU it
  // waits for the queued kernels, so a phase holds the device time of its
  // own work rather than whatever the host happened to wait for inside it.
  static void Enable(bool on, void (*sync)() = nullptr) {
    enabled_ = on;
    sync_ = sync;
  }
  static bool enabled() { return enabled_; }
  static void Reset();
  // Rows in first-seen order (parents before their children).
  static std::vector<Row> Rows();
  // Per-step milliseconds and self shares of the measured `wall_s` and
  // `cpu_s`, one row per line.
  static std::string Table(int64_t steps, double wall_s, double cpu_s);

 private:
  friend class PhaseScope;
  static int Open(const char* name);
  static void Close(int row, double seconds, double cpu_seconds);
  static inline bool enabled_ = false;
  static inline void (*sync_)() = nullptr;
};

// Adds the time between construction and destruction to phase `name`
// (a string literal) while the timer is enabled, and marks it as a range
// for LibTorch's profiler while that runs (kernels/op_profile.h).
class PhaseScope {
 public:
  explicit PhaseScope(const char* name)
      : row_(PhaseTimer::enabled() ? PhaseTimer::Open(name) : -1) {
    if (range_.isActive()) range_.before(name);
    if (row_ < 0) return;
    if (PhaseTimer::sync_ != nullptr) PhaseTimer::sync_();
    start_ = std::chrono::steady_clock::now();
    cpu_start_ = ProcessCpuSeconds();
  }
  ~PhaseScope() {
    if (row_ < 0) return;
    if (PhaseTimer::sync_ != nullptr) PhaseTimer::sync_();
    PhaseTimer::Close(
        row_, std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(),
        ProcessCpuSeconds() - cpu_start_);
  }
  PhaseScope(const PhaseScope&) = delete;
  PhaseScope& operator=(const PhaseScope&) = delete;

 private:
  int row_;
  at::RecordFunction range_{at::RecordScope::USER_SCOPE};
  std::chrono::steady_clock::time_point start_;
  double cpu_start_ = 0;
};

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_KERNELS_PHASE_TIMER_H_
