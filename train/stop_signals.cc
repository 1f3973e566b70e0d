#include "train/stop_signals.h"

#include <csignal>

namespace spacebyte::trainer {
namespace {

volatile std::sig_atomic_t pending = 0;

void OnStopSignal(int signal) {
  if (pending == signal) {  // asked twice: stop now, as if never caught
    std::signal(signal, SIG_DFL);
    std::raise(signal);
    return;
  }
  pending = signal;
}

constexpr int kStopSignals[] = {SIGTERM, SIGINT, SIGUSR1};

sigset_t StopSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int signal : kStopSignals) sigaddset(&set, signal);
  return set;
}

}  // namespace

void CatchStopSignals() {
  struct sigaction action = {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // a read or write in flight goes on
  for (int signal : kStopSignals) sigaction(signal, &action, nullptr);
}

void HoldStopSignals() {
  const sigset_t set = StopSignals();
  sigprocmask(SIG_BLOCK, &set, nullptr);
}

void ReleaseStopSignals() {
  const sigset_t set = StopSignals();
  sigprocmask(SIG_UNBLOCK, &set, nullptr);
}

int PendingStopSignal() { return pending; }

}  // namespace spacebyte::trainer
