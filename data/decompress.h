#ifndef SPACEBYTE_DATA_DECOMPRESS_H_
#define SPACEBYTE_DATA_DECOMPRESS_H_

// Inputs to `spacebyte prep`, read as a stream of bytes and decompressed on
// the fly: gzip (zlib), zstd (libzstd) and xz (liblzma), recognised by their
// magic bytes rather than by file name, so a misnamed file is still read as
// what it is. Concatenated members or frames (pigz, `cat a.gz b.gz`) are
// read whole. Memory stays a few MiB whatever the file's size.

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace spacebyte::data {

enum class Compression { kNone, kGzip, kZstd, kXz };

// What the first bytes of a file say it is.
Compression DetectCompression(std::string_view head);
const char* CompressionName(Compression c);

// One step of a decompressor; defined in decompress.cc.
class Decoder;

class ByteStream {
 public:
  // Opens `path`; its first bytes tell the compression.
  static absl::StatusOr<std::unique_ptr<ByteStream>> OpenFile(const std::string& path);
  // Reads `data`, which must outlive the stream; errors name `path`.
  static absl::StatusOr<std::unique_ptr<ByteStream>> FromMemory(const std::string& path,
                                                                std::string_view data);
  ~ByteStream();

  Compression compression() const { return compression_; }
  // Appends up to `max` (> 0) further decompressed bytes to *out and
  // returns how many: 0 only at the end. A corrupt or truncated stream is a
  // DataLoss error naming the path, the format and the compressed byte
  // offset reached; a failing read names the path and the OS error.
  absl::StatusOr<size_t> Read(size_t max, std::string* out);

 private:
  ByteStream(std::string path, std::FILE* file);
  absl::Status StartDecoder();
  absl::Status Refill();
  absl::Status Corrupt(const std::string& why) const;

  std::string path_;
  std::FILE* file_;               // null for a stream over memory
  std::string buffer_;            // compressed bytes read from file_
  std::string_view pending_;      // compressed bytes not yet decoded
  bool input_done_ = false;       // nothing follows pending_
  bool finished_ = false;
  size_t consumed_ = 0;           // compressed bytes decoded so far
  Compression compression_ = Compression::kNone;
  std::unique_ptr<Decoder> decoder_;
};

}  // namespace spacebyte::data

#endif  // SPACEBYTE_DATA_DECOMPRESS_H_
