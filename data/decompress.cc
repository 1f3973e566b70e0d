#include "data/decompress.h"

#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace spacebyte::data {

// Decodes from the front of *in (advancing it) into out[0, capacity) and
// returns how many bytes it wrote, or why the data is corrupt. `input_done`:
// nothing follows *in. Sets *finished once the stream has ended cleanly and
// no input is left. Making no progress is not an error here: the caller
// then reads more input, or calls the stream truncated.
class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual absl::StatusOr<size_t> Decode(std::string_view* in, bool input_done, char* out,
                                        size_t capacity, bool* finished) = 0;
};

namespace {

constexpr size_t kChunk = 1 << 20;

class CopyDecoder : public Decoder {
 public:
  absl::StatusOr<size_t> Decode(std::string_view* in, bool input_done, char* out,
                                size_t capacity, bool* finished) override {
    const size_t n = std::min(in->size(), capacity);
    if (n > 0) std::memcpy(out, in->data(), n);
    in->remove_prefix(n);
    *finished = in->empty() && input_done;
    return n;
  }
};

class GzipDecoder : public Decoder {
 public:
  GzipDecoder() : ok_(inflateInit2(&z_, 16 + MAX_WBITS) == Z_OK) {}
  ~GzipDecoder() override {
    if (ok_) inflateEnd(&z_);
  }
  bool ok() const { return ok_; }

  absl::StatusOr<size_t> Decode(std::string_view* in, bool input_done, char* out,
                                size_t capacity, bool* finished) override {
    if (member_ended_) {
      // tar and block devices pad a file with zeros after its last member;
      // gzip ignores them, so do we. Anything after the padding is garbage.
      const size_t zeros = std::min(in->find_first_not_of('\0'), in->size());
      padded_ = padded_ || zeros > 0;
      in->remove_prefix(zeros);
      if (in->empty()) {
        *finished = input_done;
        return 0;
      }
      if (padded_) return absl::DataLossError("data after the zero padding that ends the file");
      inflateReset(&z_);  // the next member of a concatenated file
      member_ended_ = false;
    }
    // zlib counts in 32 bits.
    constexpr size_t kMax = size_t{1} << 30;
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in->data()));
    z_.avail_in = static_cast<uInt>(std::min(in->size(), kMax));
    z_.next_out = reinterpret_cast<Bytef*>(out);
    z_.avail_out = static_cast<uInt>(std::min(capacity, kMax));
    const uInt in_before = z_.avail_in, out_before = z_.avail_out;
    const int rc = inflate(&z_, Z_NO_FLUSH);
    in->remove_prefix(in_before - z_.avail_in);
    if (rc == Z_STREAM_END) {
      member_ended_ = true;
      *finished = in->empty() && input_done;
    } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
      return absl::DataLossError(z_.msg ? z_.msg : "inflate failed");
    }
    return out_before - z_.avail_out;
  }

 private:
  z_stream z_{};
  bool ok_;
  bool member_ended_ = false, padded_ = false;
};

class ZstdDecoder : public Decoder {
 public:
  ZstdDecoder() : stream_(ZSTD_createDStream()) {}
  ~ZstdDecoder() override { ZSTD_freeDStream(stream_); }
  bool ok() const { return stream_ != nullptr; }

  absl::StatusOr<size_t> Decode(std::string_view* in, bool input_done, char* out,
                                size_t capacity, bool* finished) override {
    ZSTD_inBuffer i{in->data(), in->size(), 0};
    ZSTD_outBuffer o{out, capacity, 0};
    const size_t rc = ZSTD_decompressStream(stream_, &o, &i);
    if (ZSTD_isError(rc)) return absl::DataLossError(ZSTD_getErrorName(rc));
    in->remove_prefix(i.pos);
    // 0: a frame is decoded and flushed; a next frame starts by itself.
    *finished = rc == 0 && in->empty() && input_done;
    return o.pos;
  }

 private:
  ZSTD_DStream* stream_;
};

class XzDecoder : public Decoder {
 public:
  XzDecoder() : ok_(lzma_stream_decoder(&s_, UINT64_MAX, LZMA_CONCATENATED) == LZMA_OK) {}
  ~XzDecoder() override { lzma_end(&s_); }
  bool ok() const { return ok_; }

  absl::StatusOr<size_t> Decode(std::string_view* in, bool input_done, char* out,
                                size_t capacity, bool* finished) override {
    s_.next_in = reinterpret_cast<const uint8_t*>(in->data());
    s_.avail_in = in->size();
    s_.next_out = reinterpret_cast<uint8_t*>(out);
    s_.avail_out = capacity;
    const lzma_ret rc = lzma_code(&s_, input_done ? LZMA_FINISH : LZMA_RUN);
    in->remove_prefix(in->size() - s_.avail_in);
    if (rc == LZMA_STREAM_END) {
      *finished = true;
    } else if (rc != LZMA_OK && rc != LZMA_BUF_ERROR) {
      return absl::DataLossError(absl::StrCat("liblzma error ", rc));
    }
    return capacity - s_.avail_out;
  }

 private:
  lzma_stream s_ = LZMA_STREAM_INIT;
  bool ok_;
};

template <typename D>
std::unique_ptr<Decoder> Make() {
  auto d = std::make_unique<D>();
  if (!d->ok()) return nullptr;
  return d;
}

std::unique_ptr<Decoder> MakeDecoder(Compression c) {
  switch (c) {
    case Compression::kGzip: return Make<GzipDecoder>();
    case Compression::kZstd: return Make<ZstdDecoder>();
    case Compression::kXz: return Make<XzDecoder>();
    case Compression::kNone: break;
  }
  return std::make_unique<CopyDecoder>();
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

ByteStream::ByteStream(std::string path, std::FILE* file) : path_(std::move(path)), file_(file) {}

ByteStream::~ByteStream() {
  if (file_ != nullptr) std::fclose(file_);
}

absl::StatusOr<std::unique_ptr<ByteStream>> ByteStream::OpenFile(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return absl::NotFoundError(absl::StrCat(path, ": ", std::strerror(errno)));
  std::unique_ptr<ByteStream> stream(new ByteStream(path, file));
  if (absl::Status s = stream->Refill(); !s.ok()) return s;
  if (absl::Status s = stream->StartDecoder(); !s.ok()) return s;
  return stream;
}

absl::StatusOr<std::unique_ptr<ByteStream>> ByteStream::FromMemory(const std::string& path,
                                                                   std::string_view data) {
  std::unique_ptr<ByteStream> stream(new ByteStream(path, nullptr));
  stream->pending_ = data;
  stream->input_done_ = true;
  if (absl::Status s = stream->StartDecoder(); !s.ok()) return s;
  return stream;
}

// The compression is what the first bytes read say.
absl::Status ByteStream::StartDecoder() {
  compression_ = DetectCompression(pending_);
  decoder_ = MakeDecoder(compression_);
  if (decoder_ != nullptr) return absl::OkStatus();
  return absl::ResourceExhaustedError(
      absl::StrCat(path_, ": could not start the ", CompressionName(compression_), " decoder"));
}

// Keeps the undecoded bytes and appends the next chunk of the file.
absl::Status ByteStream::Refill() {
  const size_t kept = pending_.size();
  if (kept > 0) std::memmove(buffer_.data(), pending_.data(), kept);
  buffer_.resize(kept + kChunk);
  const size_t got = std::fread(buffer_.data() + kept, 1, kChunk, file_);
  buffer_.resize(kept + got);
  pending_ = buffer_;
  if (got < kChunk) {
    if (std::ferror(file_)) {
      return absl::DataLossError(absl::StrCat(path_, ": read failed: ", std::strerror(errno)));
    }
    input_done_ = true;
  }
  return absl::OkStatus();
}

absl::Status ByteStream::Corrupt(const std::string& why) const {
  return absl::DataLossError(absl::StrCat(path_, ": corrupt ", CompressionName(compression_),
                                          " data at compressed byte offset ", consumed_, " (",
                                          why, ")"));
}

absl::StatusOr<size_t> ByteStream::Read(size_t max, std::string* out) {
  const size_t before = out->size();
  out->resize(before + max);
  size_t produced = 0;
  while (produced == 0 && !finished_) {
    const size_t in_before = pending_.size();
    absl::StatusOr<size_t> n =
        decoder_->Decode(&pending_, input_done_, out->data() + before, max, &finished_);
    consumed_ += in_before - pending_.size();
    if (!n.ok()) {
      out->resize(before);
      return Corrupt(std::string(n.status().message()));
    }
    produced = *n;
    if (produced > 0 || finished_ || pending_.size() != in_before) continue;
    // No progress: the decoder needs bytes that are not there.
    if (input_done_) {
      out->resize(before);
      return Corrupt("truncated");
    }
    if (absl::Status s = Refill(); !s.ok()) {
      out->resize(before);
      return s;
    }
  }
  out->resize(before + produced);
  return produced;
}

}  // namespace spacebyte::data
