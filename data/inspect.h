#ifndef SPACEBYTE_DATA_INSPECT_H_
#define SPACEBYTE_DATA_INSPECT_H_

// `spacebyte data inspect`: prints what one rank receives, one line per
// sample, `step position_in_global_batch hash` (hash: 16 hex digits of
// Hash64 of the sample's T target bytes), to check determinism across ranks.

#include <cstdint>
#include <ostream>
#include <string>

#include "absl/status/status.h"

namespace spacebyte::data {

struct InspectOptions {
  std::string data_dir;
  std::string split = "train";
  int64_t context = 0;
  int64_t batch = 0;
  int64_t dp_size = 1;
  int64_t dp_rank = 0;
  int64_t steps = 0;
  uint64_t seed = 0;
  bool skip_corrupt = false;
};

absl::Status RunInspect(const InspectOptions& options, std::ostream& out);

}  // namespace spacebyte::data

#endif  // SPACEBYTE_DATA_INSPECT_H_
