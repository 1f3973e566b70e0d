#ifndef SPACEBYTE_DATA_CRC32C_H_
#define SPACEBYTE_DATA_CRC32C_H_

// CRC32C (Castagnoli) from isa-l's hardware-accelerated crc32_iscsi, and the
// masking TFRecord applies to CRCs it stores next to the data they cover.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace spacebyte::data {

// CRC32C of `data` continuing from `crc` (the CRC of the bytes before it;
// 0 for none). Crc32c("123456789") == 0xE3069283.
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t size);
inline uint32_t Crc32c(std::string_view data) {
  return Crc32cExtend(0, data.data(), data.size());
}

// Whether a stored checksum must match. Fuzzing builds (tests/fuzz defines
// FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, as OSS-Fuzz does) accept any, so
// mutated inputs get past the checksum to the checks behind it.
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
inline constexpr bool kChecksumsMustMatch = false;
#else
inline constexpr bool kChecksumsMustMatch = true;
#endif

// TFRecord's mask: a CRC stored beside data is rotated and offset so that a
// CRC of data that itself contains CRCs stays well distributed.
inline uint32_t MaskCrc(uint32_t crc) {
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}
inline uint32_t UnmaskCrc(uint32_t masked) {
  uint32_t rot = masked - 0xa282ead8u;
  return (rot >> 17) | (rot << 15);
}

}  // namespace spacebyte::data

#endif  // SPACEBYTE_DATA_CRC32C_H_
