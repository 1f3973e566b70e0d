#ifndef SPACEBYTE_DATA_DOCUMENT_SOURCE_H_
#define SPACEBYTE_DATA_DOCUMENT_SOURCE_H_

// The input side of `spacebyte prep`: which files to read, with which
// language, and how one file is cut into documents. Problems are collected,
// never dropped silently.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
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

// How many of one kind of bad input there were, and the first few: a file
// of 20 million blank lines kept 20 million entries (3 GB).
struct BadList {
  static constexpr size_t kShown = 20;
  int64_t count = 0;
  std::vector<std::string> shown;  // the first kShown
  void Add(std::string item);
  void Append(const BadList& other);
};

struct BadInputs {
  BadList unreadable;     // "path: why" (corrupt compressed data too)
  BadList not_text;       // "path: why"
  BadList invalid_json;   // "path:line: why"
  BadList empty;          // "path" or "path:line"
  void Append(const BadInputs& other);
};

// Expands `PATH[=LANG]` inputs (directories recursively, sorted) into files.
// An input that exists as written is a PATH, even with an '=' in it. A file
// without `=LANG` takes group 1 of `language_from` (a regex searched in its
// path) or "und"; a language that is not valid UTF-8 is an error. Missing
// paths go to bad->unreadable; so do pipes, devices and other files that
// are not regular (reading one could block or never end).
// An `--input` as (PATH, LANG); LANG is empty without '=' or when the input
// exists as written.
std::pair<std::string, std::string> SplitInput(const std::string& input);

absl::StatusOr<std::vector<InputFile>> ListInputs(const std::vector<std::string>& inputs,
                                                  const std::string& language_from,
                                                  BadInputs* bad);

struct RawDocument {
  std::string text;
  std::string language;
  std::string id;
};

struct ReadOptions {
  InputFormat format = InputFormat::kText;
  Separator separator = Separator::kFile;
  std::string text_field = "text";          // JSON Lines
  std::string language_field = "language";  // JSON Lines; empty: none
  // Keep files that are mostly not UTF-8 text (binary, or compressed in a
  // format not read here) instead of refusing them.
  bool allow_binary = false;
};

// Share of bytes above which a file is "mostly not text": invalid UTF-8 and
// NUL bytes together, judged on the first kSniffBytes of its (decompressed)
// content. Uniformly random bytes (compressed or encrypted data) score
// about 29%; text with stray Latin-1 or broken characters a few %.
inline constexpr double kMaxNonTextFraction = 0.1;
inline constexpr size_t kSniffBytes = 1 << 20;
// The longest document (and line): a record must stay below protobuf's
// 2 GiB, and the bound caps memory on a decompression bomb.
inline constexpr size_t kMaxDocumentBytes = size_t{1} << 30;

// Streams one file's documents, in order, to `emit`, decompressing as it
// reads when the file's first bytes say gzip, zstd or xz
// (data/decompress.h). A JSON Lines object's language field, when present,
// overrides the file's language. Memory: the document being cut plus a few
// MiB, whatever the file's size (separator "file" makes the whole file one
// document). Returns an error naming the file when it cannot be read, its
// compressed data is corrupt, or a document or line passes
// kMaxDocumentBytes (the documents emitted before stand), and
// Cancelled as soon as `emit` returns false. A file that is mostly not text
// goes to bad->not_text without a document.
absl::Status ReadDocuments(const InputFile& file, const ReadOptions& options, BadInputs* bad,
                           const std::function<bool(RawDocument)>& emit);

}  // namespace spacebyte::data

#endif  // SPACEBYTE_DATA_DOCUMENT_SOURCE_H_
