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

}  // namespace

void CatchStopSignals() {
  struct sigaction action = {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // a read or write in flight goes on
  for (int signal : {SIGTERM, SIGINT, SIGUSR1}) sigaction(signal, &action, nullptr);
}

int PendingStopSignal() { return pending; }

}  // namespace spacebyte::trainer
