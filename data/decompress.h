#ifndef SPACEBYTE_DATA_DECOMPRESS_H_
#define SPACEBYTE_DATA_DECOMPRESS_H_

// Compressed inputs to `spacebyte prep`: gzip (zlib), zstd (libzstd) and xz
// (liblzma), recognised by their magic bytes rather than by file name, so a
// misnamed file is still read as what it is. Concatenated members or frames
// (pigz, `cat a.gz b.gz`) are read whole.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace spacebyte::data {

enum class Compression { kNone, kGzip, kZstd, kXz };

// What the first bytes of a file say it is.
Compression DetectCompression(std::string_view head);
const char* CompressionName(Compression c);

// The decompressed bytes of `data`. A corrupt or truncated stream is an
// error naming `path`, the format and the compressed byte offset reached.
absl::StatusOr<std::string> Decompress(const std::string& path, Compression c,
                                       std::string_view data);

}  // namespace spacebyte::data

#endif  // SPACEBYTE_DATA_DECOMPRESS_H_
