// Run configs (text format) resolved for 1 to 4 ranks: refused with a
// message, or resolved into a config that resolves again to the same spec.

#include <cstdlib>
#include <string>

#include "tests/fuzz/fuzz_input.h"
#include "train/config_file.h"
#include "train/run_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int world = 1 + data[0] % 4;
  const std::string path = spacebyte::fuzz::WriteInput(data + 1, size - 1, "run.textproto");
  absl::StatusOr<spacebyte::proto::RunConfig> config = spacebyte::trainer::ReadRunConfig(path);
  spacebyte::fuzz::RequireMessage(config.status());
  if (!config.ok()) return 0;
  absl::StatusOr<spacebyte::trainer::RunSpec> spec =
      spacebyte::trainer::ResolveRunConfig(*config, world);
  spacebyte::fuzz::RequireMessage(spec.status());
  if (!spec.ok()) return 0;
  const spacebyte::proto::RunConfig resolved = spacebyte::trainer::ResolvedConfig(*config, *spec);
  absl::StatusOr<spacebyte::trainer::RunSpec> again =
      spacebyte::trainer::ResolveRunConfig(resolved, world);
  if (!again.ok() || again->train.steps != spec->train.steps ||
      again->train.lr != spec->train.lr || again->parallel.dp != spec->parallel.dp) {
    std::abort();
  }
  return 0;
}
