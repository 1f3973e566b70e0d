#include "tests/data/test_corpus.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <lzma.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "data/hash64.h"
#include "data/prep.h"

namespace spacebyte::data::testing {

std::string FreshDir(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  // ctest runs each test case in its own process, in parallel: the pid keeps
  // their directories apart.
  std::string dir = std::string(tmp ? tmp : "/tmp") + "/spacebyte_data_" + name + "_" +
                    std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::string MakeDataset(const std::string& dir, const std::map<std::string, int64_t>& bytes_per_language,
                        int64_t shard_bytes) {
  PrepOptions options;
  uint64_t counter = 0;
  for (const auto& [language, bytes] : bytes_per_language) {
    const std::string path = dir + "/" + language + ".txt";
    std::ofstream out(path);
    int64_t written = 0;
    while (written < bytes) {
      // Paragraphs of 20..400 bytes of language-tagged words.
      const int64_t length = 20 + static_cast<int64_t>(UniformAt(1, 2, counter++) * 380);
      std::string paragraph;
      while (static_cast<int64_t>(paragraph.size()) < length) {
        paragraph += language + std::to_string(counter++ % 997) + " ";
      }
      out << paragraph << "\n\n";
      written += paragraph.size() + 2;
    }
    options.inputs.push_back(path + "=" + language);
  }
  options.out = dir + "/dataset";
  options.separator = "blank";
  options.shard_bytes = shard_bytes;
  options.validation_fraction = 0.05;
  options.test_fraction = 0.05;
  std::ostringstream sink;
  if (!RunPrep(options, sink, sink).ok()) std::abort();
  return options.out;
}

std::string Gzip(const std::vector<std::string>& pieces, int level) {
  std::string out;
  for (const std::string& piece : pieces) {
    z_stream z{};
    deflateInit2(&z, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    std::string member(deflateBound(&z, piece.size()), '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(piece.data()));
    z.avail_in = piece.size();
    z.next_out = reinterpret_cast<Bytef*>(member.data());
    z.avail_out = member.size();
    deflate(&z, Z_FINISH);
    member.resize(z.total_out);
    deflateEnd(&z);
    out += member;
  }
  return out;
}

std::string Zstd(const std::string& text, int level) {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  std::string out(ZSTD_compressBound(text.size()), '\0');
  out.resize(ZSTD_compress2(cctx, out.data(), out.size(), text.data(), text.size()));
  ZSTD_freeCCtx(cctx);
  return out;
}

std::string Xz(const std::string& text, int level) {
  std::string out(lzma_stream_buffer_bound(text.size()), '\0');
  size_t size = 0;
  lzma_easy_buffer_encode(level, LZMA_CHECK_CRC64, nullptr,
                          reinterpret_cast<const uint8_t*>(text.data()), text.size(),
                          reinterpret_cast<uint8_t*>(out.data()), &size, out.size());
  out.resize(size);
  return out;
}

}  // namespace spacebyte::data::testing
