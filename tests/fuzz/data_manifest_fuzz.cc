// Dataset manifests (text format): any text is refused with a message or
// names only files inside the dataset directory.

#include <cstdlib>
#include <string>

#include "data/manifest.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  spacebyte::fuzz::WriteInput(data, size, "manifest.pbtxt");
  absl::StatusOr<spacebyte::proto::DatasetManifest> m =
      spacebyte::data::ReadManifest(spacebyte::fuzz::FuzzDir());
  spacebyte::fuzz::RequireMessage(m.status());
  if (!m.ok()) return 0;
  for (const auto& shard : m->shards()) {
    if (shard.file().find('/') != std::string::npos) std::abort();
  }
  return 0;
}
