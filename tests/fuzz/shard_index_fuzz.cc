// Shard indexes: any bytes are refused with a message or give offsets that
// write back to the same bytes (but the checksum, which fuzzing builds do
// not enforce).

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "data/shard_index.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::vector<uint64_t>> offsets = spacebyte::data::ParseShardIndex("x.idx", bytes);
  spacebyte::fuzz::RequireMessage(offsets.status());
  if (!offsets.ok()) return 0;
  const std::string path = spacebyte::fuzz::FuzzDir() + "/written.idx";
  if (!spacebyte::data::WriteShardIndex(path, *offsets).ok()) std::abort();
  std::ifstream in(path, std::ios::binary);
  const std::string written(std::istreambuf_iterator<char>(in), {});
  if (written.size() != bytes.size() ||
      written.compare(0, written.size() - 4, bytes, 0, bytes.size() - 4) != 0) {
    std::abort();
  }
  return 0;
}
