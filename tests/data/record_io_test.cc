#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

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

}  // namespace
}  // namespace spacebyte::data
