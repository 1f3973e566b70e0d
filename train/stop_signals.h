#ifndef SPACEBYTE_TRAIN_STOP_SIGNALS_H_
#define SPACEBYTE_TRAIN_STOP_SIGNALS_H_

// Preemption. SIGTERM, SIGINT and SIGUSR1 (what SLURM, Kubernetes and a
// user's Ctrl-C send before a kill) ask training to stop: the ranks agree at
// the next step boundary, save a checkpoint and exit with kExitPreempted.
// A second signal of the same kind ends the process at once.

namespace spacebyte::trainer {

// sysexits.h's EX_TEMPFAIL: stopped on request with a checkpoint saved; run
// the same command again to continue (launch/slurm.sbatch requeues on it).
inline constexpr int kExitPreempted = 75;

// Holds the stop signals back (blocked: they wait, they do not kill) while
// the process starts. The mask survives exec, so a signal sent while
// libraries load for the second time after a re-exec waits for the handlers
// instead of killing a job that SLURM would then not requeue.
void HoldStopSignals();
// Installs the handlers. Call before ReleaseStopSignals to catch a held one.
void CatchStopSignals();
// Lets held signals through: to the handlers if installed, else the default
// action (the process ends, as any other subcommand should).
void ReleaseStopSignals();

// The signal that asked this process to stop, or 0.
int PendingStopSignal();

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_TRAIN_STOP_SIGNALS_H_
