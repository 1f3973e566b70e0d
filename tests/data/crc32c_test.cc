#include "data/crc32c.h"

#include <string>

#include "gtest/gtest.h"

namespace spacebyte::data {
namespace {

TEST(Crc32cTest, KnownVectors) {
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(""), 0u);
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8A9136AAu);  // RFC 3720 B.4
  EXPECT_EQ(Crc32c(std::string(32, '\xff')), 0x62A8AB43u);
}

TEST(Crc32cTest, ExtendChains) {
  const std::string s = "The quick brown fox jumps over the lazy dog";
  EXPECT_EQ(Crc32cExtend(Crc32c(s.substr(0, 10)), s.data() + 10, s.size() - 10), Crc32c(s));
}

TEST(Crc32cTest, MaskRoundTripsAndMatchesTfRecord) {
  EXPECT_EQ(UnmaskCrc(MaskCrc(0xE3069283u)), 0xE3069283u);
  EXPECT_NE(MaskCrc(0xE3069283u), 0xE3069283u);
  // Masked CRC of the 8-byte length 0, from a bitwise CRC32C.
  EXPECT_EQ(MaskCrc(Crc32c(std::string(8, '\0'))), 0x07980329u);
}

}  // namespace
}  // namespace spacebyte::data
