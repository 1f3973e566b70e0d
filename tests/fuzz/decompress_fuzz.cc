// Compressed inputs to prep (gzip, zstd, xz, chosen by the input's first
// bytes as prep does): decompressed, or refused with a DataLoss message
// naming the file.

#include <cstdlib>
#include <string>

#include "data/decompress.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const spacebyte::data::Compression c = spacebyte::data::DetectCompression(bytes);
  absl::StatusOr<std::string> plain = spacebyte::data::Decompress("in.gz", c, bytes);
  spacebyte::fuzz::RequireMessage(plain.status());
  if (!plain.ok() && !absl::IsDataLoss(plain.status())) std::abort();
  return 0;
}
