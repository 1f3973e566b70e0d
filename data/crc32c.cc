#include "data/crc32c.h"

#include <isa-l/crc.h>

#include <algorithm>
#include <climits>

namespace spacebyte::data {

uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t size) {
  // ISA-L's crc32_iscsi works on the un-inverted register and takes an int
  // length, so feed it in pieces and invert on the way in and out.
  auto* p = static_cast<unsigned char*>(const_cast<void*>(data));
  uint32_t reg = ~crc;
  while (size > 0) {
    const int n = static_cast<int>(std::min<size_t>(size, INT_MAX));
    reg = crc32_iscsi(p, n, reg);
    p += n;
    size -= static_cast<size_t>(n);
  }
  return ~reg;
}

}  // namespace spacebyte::data
