#ifndef SPACEBYTE_KERNELS_OP_PROFILE_H_
#define SPACEBYTE_KERNELS_OP_PROFILE_H_

// Time per operator or GPU kernel of some work, from LibTorch's own
// profiler, for `spacebyte bench --trace`: where `--profile` says which
// phase of a step is slow, this says which kernels make it so (the
// element-wise passes, casts and copies that a phase table cannot tell
// apart). Works with LibTorch 1.13 and 2.x, on CPU and CUDA.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace spacebyte::trainer {

struct OpTime {
  std::string name;
  double ms = 0;  // self time, summed over calls
  int64_t calls = 0;
};

struct OpProfile {
  // On CUDA the GPU's kernels, copies and fills by device time; on the CPU
  // the operators by self time (excluding the operators they call, so
  // aten::linear does not count its aten::mm again). Most time first.
  std::vector<OpTime> ops;
  double total_ms = 0;  // all of `ops`
  std::string basis;    // "cuda kernels (device time)" or "cpu operators (self time)"
};

// Runs `work` with the profiler recording CPU operators and, with `cuda`,
// the GPU's activity (waiting for the device before it stops), and writes
// every event as a Chrome trace (chrome://tracing or ui.perfetto.dev) to
// `trace_path`: CPU threads and GPU streams as rows, with the named phases
// of a step (PhaseScope) as ranges around their operators. An error names
// the file it could not write.
absl::StatusOr<OpProfile> ProfileOps(const std::function<void()>& work, bool cuda,
                                     const std::string& trace_path);

// The `top` largest rows as a table of milliseconds and calls per step,
// each with its share of the total, for stderr.
std::string OpTable(const OpProfile& profile, int top, int64_t steps);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_KERNELS_OP_PROFILE_H_
