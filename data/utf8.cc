#include "data/utf8.h"

#include "absl/strings/str_format.h"
#include "simdjson.h"

namespace spacebyte::data {
namespace {

// Length of the well-formed sequence starting at text[i], or 0.
size_t SequenceLength(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > text.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return n;
}

}  // namespace

int64_t InvalidUtf8Bytes(std::string_view text) {
  // Nearly every document is valid: simdjson says so at several GB/s, and
  // only the others are counted byte by byte.
  if (simdjson::validate_utf8(text.data(), text.size())) return 0;
  int64_t invalid = 0;
  for (size_t i = 0; i < text.size();) {
    const size_t n = SequenceLength(text, i);
    if (n == 0) {
      ++invalid;
      ++i;
    } else {
      i += n;
    }
  }
  return invalid;
}

std::string Utf8OrEscaped(std::string_view text) {
  if (InvalidUtf8Bytes(text) == 0) return std::string(text);
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x80) {
      out.push_back(c);
    } else {
      out += absl::StrFormat("\\x%02X", byte);
    }
  }
  return out;
}

}  // namespace spacebyte::data
