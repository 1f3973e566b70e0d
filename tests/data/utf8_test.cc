#include "data/utf8.h"

#include <string>

#include "gtest/gtest.h"

namespace spacebyte::data {
namespace {

// Byte by byte, the definition: the counter's fast path (simdjson's
// validator for whole valid texts) must agree with it, at every offset.
TEST(Utf8Test, CountsEveryInvalidByteWhereverItSits) {
  const std::string ascii(40, 'a');
  struct Case {
    std::string bad;
    int64_t invalid;
  };
  const Case cases[] = {
      {"\xff", 1},                  // never valid
      {"\xc0\x80", 2},              // overlong NUL
      {"\xe0\x80\xaf", 3},          // overlong '/'
      {"\xed\xa0\x80", 3},          // a surrogate
      {"\xf4\x90\x80\x80", 4},      // past U+10FFFF
      {"\xe4\xb8", 2},              // cut short
      {"\x80", 1},                  // a lone continuation byte
      {"\xd0\xb6", 0},              // ж
      {"\xf0\x9f\x98\x80", 0},      // an emoji
  };
  for (const Case& c : cases) {
    for (size_t at = 0; at <= 17; ++at) {
      const std::string text = ascii.substr(0, at) + c.bad + ascii.substr(at);
      EXPECT_EQ(InvalidUtf8Bytes(text), c.invalid) << "at " << at;
      EXPECT_EQ(InvalidUtf8Bytes(text + "\xd0\xb6" + c.bad), 2 * c.invalid) << "at " << at;
    }
  }
  EXPECT_EQ(InvalidUtf8Bytes(""), 0);
  EXPECT_EQ(InvalidUtf8Bytes("\xe4\xb8\xad\xe6\x96\x87 and \xff\xfe"), 2);
}

}  // namespace
}  // namespace spacebyte::data
