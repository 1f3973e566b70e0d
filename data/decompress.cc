#include "data/decompress.h"

#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"

namespace spacebyte::data {
namespace {

constexpr size_t kChunk = 1 << 20;

absl::Status Corrupt(const std::string& path, Compression c, size_t offset,
                     const std::string& why) {
  return absl::DataLossError(absl::StrCat(path, ": corrupt ", CompressionName(c),
                                          " data at compressed byte offset ", offset, " (",
                                          why, ")"));
}

absl::StatusOr<std::string> Gunzip(const std::string& path, std::string_view data) {
  z_stream z{};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return absl::InternalError("inflateInit2 failed");
  std::unique_ptr<z_stream, int (*)(z_stream*)> end(&z, inflateEnd);
  // zlib counts in 32 bits: the input is handed over 1 GiB at a time.
  constexpr size_t kMaxIn = size_t{1} << 30;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(std::min(data.size(), kMaxIn));
  size_t consumed = 0;
  std::string out;
  while (true) {
    const size_t before = out.size();
    out.resize(before + kChunk);
    z.next_out = reinterpret_cast<Bytef*>(out.data() + before);
    z.avail_out = kChunk;
    const uInt in_before = z.avail_in;
    const int rc = inflate(&z, Z_NO_FLUSH);
    consumed += in_before - z.avail_in;
    const bool progress = in_before != z.avail_in || z.avail_out != kChunk;
    out.resize(before + kChunk - z.avail_out);
    if (z.avail_in == 0) z.avail_in = static_cast<uInt>(std::min(data.size() - consumed, kMaxIn));
    if (rc == Z_STREAM_END) {
      if (consumed == data.size()) return out;
      inflateReset(&z);  // the next member of a concatenated file
    } else if (rc == Z_BUF_ERROR || (rc == Z_OK && !progress)) {
      if (consumed == data.size() || !progress) {
        return Corrupt(path, Compression::kGzip, consumed, "truncated");
      }
    } else if (rc != Z_OK) {
      return Corrupt(path, Compression::kGzip, consumed, z.msg ? z.msg : "inflate failed");
    }
  }
}

absl::StatusOr<std::string> Unzstd(const std::string& path, std::string_view data) {
  std::unique_ptr<ZSTD_DStream, size_t (*)(ZSTD_DStream*)> stream(ZSTD_createDStream(),
                                                                  ZSTD_freeDStream);
  ZSTD_inBuffer in{data.data(), data.size(), 0};
  std::string out;
  size_t rc = 0;  // 0 once a frame is decoded and flushed
  // Until the input is used up and, after it, the decoder's buffered output.
  while (in.pos < in.size || rc != 0) {
    const size_t before = out.size(), in_before = in.pos;
    out.resize(before + kChunk);
    ZSTD_outBuffer o{out.data() + before, kChunk, 0};
    rc = ZSTD_decompressStream(stream.get(), &o, &in);
    out.resize(before + o.pos);
    if (ZSTD_isError(rc)) return Corrupt(path, Compression::kZstd, in.pos, ZSTD_getErrorName(rc));
    if (o.pos == 0 && in.pos == in_before && rc != 0) {
      return Corrupt(path, Compression::kZstd, in.pos, "truncated");
    }
  }
  return out;
}

absl::StatusOr<std::string> Unxz(const std::string& path, std::string_view data) {
  lzma_stream s = LZMA_STREAM_INIT;
  if (lzma_stream_decoder(&s, UINT64_MAX, LZMA_CONCATENATED) != LZMA_OK) {
    return absl::InternalError("lzma_stream_decoder failed");
  }
  std::unique_ptr<lzma_stream, void (*)(lzma_stream*)> end(&s, lzma_end);
  s.next_in = reinterpret_cast<const uint8_t*>(data.data());
  s.avail_in = data.size();
  std::string out;
  while (true) {
    const size_t before = out.size();
    out.resize(before + kChunk);
    s.next_out = reinterpret_cast<uint8_t*>(out.data() + before);
    s.avail_out = kChunk;
    const lzma_ret rc = lzma_code(&s, s.avail_in == 0 ? LZMA_FINISH : LZMA_RUN);
    out.resize(before + kChunk - s.avail_out);
    if (rc == LZMA_STREAM_END) return out;
    if (rc == LZMA_BUF_ERROR) return Corrupt(path, Compression::kXz, s.total_in, "truncated");
    if (rc != LZMA_OK) {
      return Corrupt(path, Compression::kXz, s.total_in, absl::StrCat("liblzma error ", rc));
    }
  }
}

}  // namespace

Compression DetectCompression(std::string_view head) {
  auto starts = [&](std::string_view magic) { return head.substr(0, magic.size()) == magic; };
  if (starts(std::string_view("\x1f\x8b", 2))) return Compression::kGzip;
  if (starts(std::string_view("\x28\xb5\x2f\xfd", 4))) return Compression::kZstd;
  if (starts(std::string_view("\xfd" "7zXZ\x00", 6))) return Compression::kXz;
  return Compression::kNone;
}

const char* CompressionName(Compression c) {
  switch (c) {
    case Compression::kGzip: return "gzip";
    case Compression::kZstd: return "zstd";
    case Compression::kXz: return "xz";
    case Compression::kNone: break;
  }
  return "uncompressed";
}

absl::StatusOr<std::string> Decompress(const std::string& path, Compression c,
                                       std::string_view data) {
  switch (c) {
    case Compression::kGzip: return Gunzip(path, data);
    case Compression::kZstd: return Unzstd(path, data);
    case Compression::kXz: return Unxz(path, data);
    case Compression::kNone: break;
  }
  return std::string(data);
}

}  // namespace spacebyte::data
