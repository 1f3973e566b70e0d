// Record files: reading any bytes, from the start and from every offset the
// input names, ends in records or in a DataLoss/OutOfRange error with a
// message, never a crash or an unbounded allocation.

#include <cstdlib>
#include <cstring>
#include <string>

#include "data/record_reader.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

void ReadAll(spacebyte::data::RecordReader& reader, uint64_t start) {
  reader.Seek(start);
  std::string payload;
  for (int i = 0; i < 64; ++i) {
    const absl::Status s = reader.Read(&payload);
    if (s.ok()) continue;
    spacebyte::fuzz::RequireMessage(s);
    if (!absl::IsDataLoss(s) && !absl::IsOutOfRange(s)) std::abort();
    return;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = spacebyte::fuzz::WriteInput(data, size, "shard.tfrecord");
  auto reader = spacebyte::data::RecordReader::Open(path);
  if (!reader.ok()) std::abort();
  ReadAll(**reader, 0);
  // The first bytes double as seek targets, as a damaged index would give.
  for (size_t i = 0; i + 8 <= std::min<size_t>(size, 32); i += 8) {
    uint64_t offset;
    std::memcpy(&offset, data + i, 8);
    ReadAll(**reader, offset);
  }
  return 0;
}
