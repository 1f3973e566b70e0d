#ifndef SPACEBYTE_DATA_HASH64_H_
#define SPACEBYTE_DATA_HASH64_H_

// A stable 64-bit hash (FNV-1a then a splitmix64 finaliser) and a
// counter-based random number: both fixed across runs, platforms and
// library versions, unlike absl::Hash, because splits and sample order are
// derived from them and must never change.

#include <cstdint>
#include <string_view>

namespace spacebyte::data {

inline uint64_t Mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

inline uint64_t Hash64(std::string_view bytes, uint64_t seed = 0) {
  uint64_t h = 0xcbf29ce484222325ull ^ Mix64(seed);
  for (unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ull;
  return Mix64(h);
}

// A uniform double in [0, 1) determined by (seed, stream, counter).
inline double UniformAt(uint64_t seed, uint64_t stream, uint64_t counter) {
  uint64_t bits = Mix64(Mix64(seed ^ Mix64(stream)) ^ counter);
  return static_cast<double>(bits >> 11) * 0x1.0p-53;
}

}  // namespace spacebyte::data

#endif  // SPACEBYTE_DATA_HASH64_H_
