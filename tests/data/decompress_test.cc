#include "data/decompress.h"

#include <filesystem>
#include <fstream>
#include <string>

#include "data/hash64.h"
#include "gtest/gtest.h"
#include "tests/data/test_corpus.h"

namespace spacebyte::data {
namespace {

// A few MiB of lines of random letters: several read chunks (1 MiB) even
// compressed.
const std::string& Lines() {
  static const std::string lines = [] {
    static const char kLetters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,";
    std::string text;
    for (uint64_t i = 0; text.size() < (5u << 20); ++i) {
      text += "ж ";
      for (int k = 0; k < 60; ++k) text += kLetters[Mix64(i * 64 + k) % 64];
      text += '\n';
    }
    return text;
  }();
  return lines;
}

std::string WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

// Everything the stream yields, read `piece` bytes at a time.
absl::StatusOr<std::string> ReadAll(ByteStream& stream, size_t piece) {
  std::string out;
  while (true) {
    absl::StatusOr<size_t> n = stream.Read(piece, &out);
    if (!n.ok()) return n.status();
    if (*n == 0) return out;
    if (*n > piece) return absl::InternalError("read more than asked");
  }
}

struct Case {
  const char* name;
  Compression compression;
  std::string bytes;
};

// Built once: compressing takes about a second.
const std::vector<Case>& Cases() {
  const std::string& text = Lines();
  const size_t third = text.size() / 3;
  static const std::vector<Case> cases = {{"plain", Compression::kNone, text},
          {"gzip", Compression::kGzip,
           testing::Gzip({text.substr(0, third), text.substr(third, third), text.substr(2 * third)},
                         /*level=*/1)},
          {"zstd", Compression::kZstd, testing::Zstd(text, /*level=*/1)},
          {"xz", Compression::kXz, testing::Xz(text, /*level=*/0)}};
  return cases;
}

// From a file, in odd pieces: what crosses the 1 MiB read chunks and the
// members of a concatenated gzip comes out whole.
TEST(ByteStreamTest, FilesStreamInPiecesAcrossChunksAndMembers) {
  const std::string dir = testing::FreshDir("byte_stream");
  const std::string& text = Lines();
  for (const Case& c : Cases()) {
    ASSERT_GT(c.bytes.size(), 1u << 20) << c.name << ": must span several read chunks";
    auto stream = ByteStream::OpenFile(WriteFile(dir + "/" + c.name, c.bytes));
    ASSERT_TRUE(stream.ok()) << stream.status();
    EXPECT_EQ((*stream)->compression(), c.compression) << c.name;
    {
      const size_t piece = 4099;
      absl::StatusOr<std::string> out = ReadAll(**stream, piece);
      ASSERT_TRUE(out.ok()) << c.name << ": " << out.status();
      EXPECT_TRUE(*out == text) << c.name << ": " << out->size() << " bytes of " << text.size();
    }
  }
}

// Cut anywhere, every format says where it stopped and never reads as
// complete.
TEST(ByteStreamTest, TruncatedStreamsAreCorruptAtTheOffsetReached) {
  const std::string dir = testing::FreshDir("byte_stream_cut");
  const std::string& text = Lines();
  for (const Case& c : Cases()) {
    if (c.compression == Compression::kNone) continue;
    for (size_t cut : {c.bytes.size() / 3, c.bytes.size() - 1}) {
      const std::string path = WriteFile(dir + "/" + c.name, c.bytes.substr(0, cut));
      auto stream = ByteStream::OpenFile(path);
      ASSERT_TRUE(stream.ok()) << stream.status();
      absl::StatusOr<std::string> out = ReadAll(**stream, 1 << 20);
      ASSERT_FALSE(out.ok()) << c.name << " cut at " << cut << " read as whole";
      EXPECT_TRUE(absl::IsDataLoss(out.status()));
      EXPECT_NE(out.status().message().find(path + ": corrupt " + c.name +
                                            " data at compressed byte offset "),
                std::string::npos)
          << out.status();
    }
  }
}

// Zeros after the last member (tar's padding) end a gzip file as gzip -d
// reads it; bytes after the zeros are corrupt data, not a member.
TEST(ByteStreamTest, GzipZeroPaddingEndsTheFile) {
  const std::string dir = testing::FreshDir("byte_stream_padding");
  const std::string gz = testing::Gzip({"one\n", "two\n"}, /*level=*/1);
  for (const size_t zeros : {size_t{1}, size_t{512}, size_t{3} << 20}) {
    auto stream = ByteStream::OpenFile(WriteFile(dir + "/padded.gz", gz + std::string(zeros, '\0')));
    ASSERT_TRUE(stream.ok()) << stream.status();
    absl::StatusOr<std::string> out = ReadAll(**stream, 1 << 20);
    ASSERT_TRUE(out.ok()) << zeros << " zeros: " << out.status();
    EXPECT_EQ(*out, "one\ntwo\n");
  }
  const std::string path = WriteFile(dir + "/garbage.gz", gz + std::string(8, '\0') + gz);
  auto stream = ByteStream::OpenFile(path);
  ASSERT_TRUE(stream.ok()) << stream.status();
  absl::StatusOr<std::string> out = ReadAll(**stream, 1 << 20);
  ASSERT_FALSE(out.ok());
  EXPECT_TRUE(absl::IsDataLoss(out.status())) << out.status();
  EXPECT_NE(out.status().message().find(path + ": corrupt gzip data"), std::string::npos)
      << out.status();
}

TEST(ByteStreamTest, MissingFileNamesThePath) {
  auto stream = ByteStream::OpenFile("/nonexistent/corpus.zst");
  ASSERT_FALSE(stream.ok());
  EXPECT_EQ(stream.status().message(), "/nonexistent/corpus.zst: No such file or directory");
}

}  // namespace
}  // namespace spacebyte::data
