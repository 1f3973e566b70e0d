#include "checkpoint/save_fault.h"

#include <csignal>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace spacebyte::trainer {

void MaybeDieAt(const char* point, int64_t step, int rank, int world_size) {
  const char* spec = std::getenv("SPACEBYTE_TEST_KILL_AT");
  if (spec == nullptr) return;
  const std::vector<std::string> parts = absl::StrSplit(spec, ':');
  int64_t at_step = -1;
  if (parts.size() < 2 || parts[0] != point || !absl::SimpleAtoi(parts[1], &at_step) ||
      at_step != step) {
    return;
  }
  int at_rank = world_size - 1;
  if (parts.size() > 2 && parts[2] != "last" && !absl::SimpleAtoi(parts[2], &at_rank)) return;
  const bool stop = parts.size() > 3 && parts[3] == "stop";
  if (at_rank == rank) std::raise(stop ? SIGSTOP : SIGKILL);
}

}  // namespace spacebyte::trainer
