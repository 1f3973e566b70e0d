// Compressed inputs to prep (gzip, zstd, xz, chosen by the input's first
// bytes as prep does), streamed: decompressed, or refused with a DataLoss
// message naming the file. Output past 64 MiB is not read (a small input
// may legitimately expand that far).

#include <cstdlib>
#include <string>

#include "data/decompress.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto stream = spacebyte::data::ByteStream::FromMemory("in.gz", bytes);
  if (!stream.ok()) std::abort();
  std::string out;
  while (out.size() < (size_t{64} << 20)) {
    absl::StatusOr<size_t> n = (*stream)->Read(size_t{1} << 20, &out);
    if (!n.ok()) {
      spacebyte::fuzz::RequireMessage(n.status());
      if (!absl::IsDataLoss(n.status())) std::abort();
      break;
    }
    if (*n == 0) break;
  }
  return 0;
}
