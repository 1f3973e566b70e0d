#ifndef SPACEBYTE_DATA_DOCUMENT_SOURCE_H_
#define SPACEBYTE_DATA_DOCUMENT_SOURCE_H_

// The input side of `spacebyte prep`: which files to read, with which
// language, and how one file is cut into documents. Problems are collected,
// never dropped silently.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace spacebyte::data {

enum class InputFormat { kText, kJsonLines };
enum class Separator { kFile, kBlank, kPercent, kLine };

absl::StatusOr<InputFormat> ParseInputFormat(const std::string& name);
absl::StatusOr<Separator> ParseSeparator(const std::string& name);

struct InputFile {
  std::string path;
  std::string language;
};

struct BadInputs {
  std::vector<std::string> unreadable;     // "path: why"
  std::vector<std::string> invalid_json;   // "path:line: why"
  std::vector<std::string> empty;          // "path" or "path:line"
  void Append(const BadInputs& other);
};

// Expands `PATH[=LANG]` inputs (directories recursively, sorted) into files.
// A file without `=LANG` takes group 1 of `language_from` (a regex searched
// in its path) or "und". Missing paths go to bad->unreadable.
absl::StatusOr<std::vector<InputFile>> ListInputs(const std::vector<std::string>& inputs,
                                                  const std::string& language_from,
                                                  BadInputs* bad);

struct RawDocument {
  std::string text;
  std::string language;
  std::string id;
};

// Cuts one file into documents. A JSON Lines object's `language` field, when
// present, overrides the file's language.
std::vector<RawDocument> ReadDocuments(const InputFile& file, InputFormat format,
                                       Separator separator, BadInputs* bad);

}  // namespace spacebyte::data

#endif  // SPACEBYTE_DATA_DOCUMENT_SOURCE_H_
