#ifndef SPACEBYTE_DATA_LITTLE_ENDIAN_H_
#define SPACEBYTE_DATA_LITTLE_ENDIAN_H_

// Fixed-width little-endian integers for the on-disk formats (TFRecord
// framing, shard index), independent of the host's byte order.

#include <cstdint>
#include <string>

namespace spacebyte::data {

inline void AppendU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}
inline void AppendU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}
inline uint32_t ReadU32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
inline uint64_t ReadU64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

}  // namespace spacebyte::data

#endif  // SPACEBYTE_DATA_LITTLE_ENDIAN_H_
