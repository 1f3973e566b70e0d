#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/crc32c.h"
#include "data/record_reader.h"
#include "data/record_writer.h"
#include "data/shard_index.h"
#include "gtest/gtest.h"
#include "tests/data/test_corpus.h"

namespace spacebyte::data {
namespace {

std::vector<std::string> Payloads() {
  return {"", "a", std::string(5000, 'x'), "hello\xffworld", std::string(3 << 20, 'z')};
}

std::string WriteFile(const std::string& dir) {
  const std::string path = dir + "/records.tfrecord";
  auto writer = RecordWriter::Open(path);
  EXPECT_TRUE(writer.ok());
  for (const std::string& p : Payloads()) EXPECT_TRUE((*writer)->Write(p).ok());
  EXPECT_TRUE((*writer)->Close().ok());
  return path;
}

TEST(RecordIoTest, RoundTripSequentialAndByIndex) {
  const std::string path = WriteFile(testing::FreshDir("roundtrip"));
  auto reader = RecordReader::Open(path);
  ASSERT_TRUE(reader.ok());
  std::string payload;
  for (const std::string& expected : Payloads()) {
    ASSERT_TRUE((*reader)->Read(&payload).ok());
    EXPECT_EQ(payload, expected);
  }
  EXPECT_TRUE(absl::IsOutOfRange((*reader)->Read(&payload)));
  auto offsets = ReadShardIndex(IndexPath(path));
  ASSERT_TRUE(offsets.ok());
  ASSERT_EQ(offsets->size(), Payloads().size());
  (*reader)->Seek((*offsets)[3]);
  ASSERT_TRUE((*reader)->Read(&payload).ok());
  EXPECT_EQ(payload, Payloads()[3]);
}

void FlipByte(const std::string& path, uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(offset);
  char c;
  f.get(c);
  f.seekp(offset);
  f.put(static_cast<char>(c ^ 0x10));
}

TEST(RecordIoTest, FlippedPayloadByteNamesFileAndOffset) {
  const std::string path = WriteFile(testing::FreshDir("flip"));
  auto offsets = ReadShardIndex(IndexPath(path));
  FlipByte(path, (*offsets)[2] + 12 + 100);  // inside record 2's payload
  auto reader = RecordReader::Open(path);
  std::string payload;
  ASSERT_TRUE((*reader)->Read(&payload).ok());
  ASSERT_TRUE((*reader)->Read(&payload).ok());
  absl::Status s = (*reader)->Read(&payload);
  EXPECT_TRUE(absl::IsDataLoss(s));
  EXPECT_NE(s.message().find(path), std::string::npos) << s;
  EXPECT_NE(s.message().find("byte offset " + std::to_string((*offsets)[2])), std::string::npos) << s;
}

TEST(RecordIoTest, FlippedLengthByteIsDetected) {
  const std::string path = WriteFile(testing::FreshDir("flip_length"));
  FlipByte(path, 0);
  auto reader = RecordReader::Open(path);
  std::string payload;
  absl::Status s = (*reader)->Read(&payload);
  EXPECT_TRUE(absl::IsDataLoss(s));
  EXPECT_NE(s.message().find("length checksum"), std::string::npos) << s;
}

TEST(RecordIoTest, TruncatedFileNamesOffset) {
  const std::string path = WriteFile(testing::FreshDir("truncate"));
  auto offsets = ReadShardIndex(IndexPath(path));
  std::filesystem::resize_file(path, (*offsets)[4] + 1000);
  auto reader = RecordReader::Open(path);
  std::string payload;
  for (int i = 0; i < 4; ++i) ASSERT_TRUE((*reader)->Read(&payload).ok());
  absl::Status s = (*reader)->Read(&payload);
  EXPECT_TRUE(absl::IsDataLoss(s));
  EXPECT_NE(s.message().find("truncated"), std::string::npos) << s;
  EXPECT_NE(s.message().find(std::to_string((*offsets)[4])), std::string::npos) << s;
}

TEST(RecordIoTest, CorruptIndexIsReported) {
  const std::string path = WriteFile(testing::FreshDir("bad_index"));
  FlipByte(IndexPath(path), 20);
  auto offsets = ReadShardIndex(IndexPath(path));
  EXPECT_TRUE(absl::IsDataLoss(offsets.status()));
  EXPECT_NE(offsets.status().message().find(IndexPath(path)), std::string::npos);
}

// A count whose 8 * count wraps around to the file's real size, with a
// valid checksum: refused before anything is allocated for it.
TEST(RecordIoTest, IndexCountThatOverflowsIsRefused) {
  const std::string path = WriteFile(testing::FreshDir("huge_index"));
  auto offsets = ReadShardIndex(IndexPath(path));
  ASSERT_TRUE(offsets.ok()) << offsets.status();
  ASSERT_TRUE(WriteShardIndex(IndexPath(path), *offsets).ok());
  std::string bytes;
  {
    std::ifstream in(IndexPath(path), std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  const uint64_t hostile = offsets->size() + (uint64_t{1} << 61);
  for (int i = 0; i < 8; ++i) bytes[8 + i] = static_cast<char>((hostile >> (8 * i)) & 0xff);
  const uint32_t crc = MaskCrc(Crc32c({bytes.data(), bytes.size() - 4}));
  for (int i = 0; i < 4; ++i) bytes[bytes.size() - 4 + i] = static_cast<char>((crc >> (8 * i)) & 0xff);
  std::ofstream(IndexPath(path), std::ios::binary | std::ios::trunc) << bytes;
  auto read = ReadShardIndex(IndexPath(path));
  EXPECT_TRUE(absl::IsDataLoss(read.status())) << read.status();
  EXPECT_NE(read.status().message().find(IndexPath(path) + ": wrong size"), std::string::npos)
      << read.status();
}

// Reads near the end of the 64-bit range do not wrap around into the file.
TEST(RecordIoTest, SeekPastTheEndIsCorruptNotACrash) {
  const std::string path = WriteFile(testing::FreshDir("far_seek"));
  auto reader = RecordReader::Open(path);
  ASSERT_TRUE(reader.ok());
  std::string payload;
  for (uint64_t offset : {~uint64_t{0} - 3, (*reader)->file_size() + 1}) {
    (*reader)->Seek(offset);
    const absl::Status s = (*reader)->Read(&payload);
    EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  }
}

}  // namespace
}  // namespace spacebyte::data
