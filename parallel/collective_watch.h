#ifndef SPACEBYTE_PARALLEL_COLLECTIVE_WATCH_H_
#define SPACEBYTE_PARALLEL_COLLECTIVE_WATCH_H_

// A limit on how long a rank waits in one collective for the others.
//
// A rank that is stuck (a frozen node, a hung file system, a deadlock) or
// gone without MPI or NCCL noticing leaves every other rank waiting in its
// next collective for good, holding the job's machines. With a limit set, a
// wait that outlasts it ends the job (AbortAll: "rank R: ..." naming the
// collective, MPI_Abort, exit code 1), as PyTorch's process-group timeout
// does. The limit is process-wide, as MPI is: off until SetCollectiveTimeout.
//
// Blocking MPI waits mark themselves with CollectiveWait; NCCL collectives,
// which the host never waits on directly, are timed from their launch by
// their communicator's watch thread (nccl_collectives.cc).

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace spacebyte::parallel {

// Seconds a wait may last; 0 (the start) turns the limit off.
void SetCollectiveTimeout(double seconds);
double CollectiveTimeout();

// Marks a blocking wait on other ranks for its scope. `what` names the
// collective in the message (a string literal: it may be read after the
// wait ends).
class CollectiveWait {
 public:
  explicit CollectiveWait(const char* what);
  ~CollectiveWait();
  CollectiveWait(const CollectiveWait&) = delete;
  CollectiveWait& operator=(const CollectiveWait&) = delete;

 private:
  uint64_t id_ = 0;  // 0: not watched (no limit when it began)
};

// Names, for its scope on this thread, what the ranks are doing together
// ("saving a checkpoint"): a wait that outlasts the limit says so, which
// tells a stuck rank from work that needs a higher limit. `what` is a
// string literal: the watch thread may read it after the scope ends.
class CollectivePhase {
 public:
  explicit CollectivePhase(const char* what);
  ~CollectivePhase();
  CollectivePhase(const CollectivePhase&) = delete;
  CollectivePhase& operator=(const CollectivePhase&) = delete;

 private:
  const char* outer_;
};
// The innermost phase of this thread; "" outside any.
const char* CurrentCollectivePhase();

// For a watch thread that ticks every `period`: how long this process was
// stopped before a tick (SIGSTOP: SLURM suspending the job, gang
// scheduling), which must not count toward any wait, since the other ranks
// were stopped with it. A tick far later than its period is taken as that.
class SuspensionClock {
 public:
  using Clock = std::chrono::steady_clock;
  // Called once per tick, `period` after the last (or after Restart).
  void Tick(Clock::duration period);
  // After a wait of no fixed length.
  void Restart() { last_ = Clock::now(); }
  // `at`, a start being timed, moved later by the time stopped before this
  // tick, but never past the tick: a wait that began between the resume and
  // the tick gets no more than its own age forgiven. Keeps starts in order.
  Clock::time_point Forgiven(Clock::time_point at) const {
    return stopped_ == Clock::duration::zero() ? at : std::min(at + stopped_, last_);
  }

 private:
  Clock::time_point last_ = Clock::now();
  Clock::duration stopped_{};
};

}  // namespace spacebyte::parallel

#endif  // SPACEBYTE_PARALLEL_COLLECTIVE_WATCH_H_
