#ifndef SPACEBYTE_CHECKPOINT_SAVE_FAULT_H_
#define SPACEBYTE_CHECKPOINT_SAVE_FAULT_H_

// Crashes injected into a checkpoint save, for the tests that check that a
// save killed at any point of its commit leaves the newest complete
// checkpoint loadable. With SPACEBYTE_TEST_KILL_AT=POINT:STEP[:RANK[:stop]]
// in the environment, the process raises SIGKILL (with "stop", SIGSTOP: a
// rank frozen, not gone, for the collective timeout's test) when the save of
// step STEP reaches POINT, in the order a save passes them:
//   files     every rank's file is written, before the ranks agree to commit
//             (RANK picks the rank; "last" the highest, the default)
//   manifest  rank 0 has written manifest.pb into step_N.tmp/
//   rename    step_N.tmp/ has been renamed to step_N/
//   latest    `latest` names step_N, before old checkpoints are pruned
// The last three happen on rank 0 only.

#include <cstdint>

namespace spacebyte::trainer {

void MaybeDieAt(const char* point, int64_t step, int rank = 0, int world_size = 1);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_CHECKPOINT_SAVE_FAULT_H_
