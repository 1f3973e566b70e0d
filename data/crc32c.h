#ifndef SPACEBYTE_DATA_CRC32C_H_
#define SPACEBYTE_DATA_CRC32C_H_

// CRC32C (Castagnoli), hardware accelerated through Intel ISA-L.

#include <cstddef>
#include <cstdint>

namespace spacebyte::data {

// CRC32C of data[0..size) continuing from a previous CRC32C `crc`
// (0 for a fresh start).
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t size);

inline uint32_t Crc32c(const void* data, size_t size) { return Crc32cExtend(0, data, size); }

}  // namespace spacebyte::data

#endif  // SPACEBYTE_DATA_CRC32C_H_
