#include "data/crc32c.h"

#include <climits>

#include "isa-l/crc.h"

namespace spacebyte::data {

// isa-l's crc32_iscsi neither pre- nor post-inverts; the standard CRC32C
// inverts both, so the inversions are applied here (and undone on `crc` so
// calls chain).
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t size) {
  auto* bytes = static_cast<unsigned char*>(const_cast<void*>(data));
  uint32_t state = ~crc;
  while (size > 0) {
    int chunk = size > INT_MAX ? INT_MAX : static_cast<int>(size);
    state = crc32_iscsi(bytes, chunk, state);
    bytes += chunk;
    size -= chunk;
  }
  return ~state;
}

}  // namespace spacebyte::data
