#ifndef SPACEBYTE_DATA_UTF8_H_
#define SPACEBYTE_DATA_UTF8_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace spacebyte::data {

// Bytes of `text` that are not part of a well-formed UTF-8 sequence
// (overlong forms, surrogates and code points past U+10FFFF included).
int64_t InvalidUtf8Bytes(std::string_view text);

// `text` when it is valid UTF-8; else with every byte above 0x7F written as
// \xNN, so that a file name can go into a protobuf string or a message.
std::string Utf8OrEscaped(std::string_view text);

}  // namespace spacebyte::data

#endif  // SPACEBYTE_DATA_UTF8_H_
