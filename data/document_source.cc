#include "data/document_source.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "data/decompress.h"
#include "data/utf8.h"
#include "nlohmann/json.hpp"

namespace spacebyte::data {
namespace fs = std::filesystem;

absl::StatusOr<InputFormat> ParseInputFormat(const std::string& name) {
  if (name == "text") return InputFormat::kText;
  if (name == "jsonl") return InputFormat::kJsonLines;
  return absl::InvalidArgumentError(absl::StrCat("--format: '", name, "' is not text|jsonl"));
}

absl::StatusOr<Separator> ParseSeparator(const std::string& name) {
  if (name == "file") return Separator::kFile;
  if (name == "blank") return Separator::kBlank;
  if (name == "percent") return Separator::kPercent;
  if (name == "line") return Separator::kLine;
  return absl::InvalidArgumentError(
      absl::StrCat("--separator: '", name, "' is not file|blank|percent|line"));
}

void BadInputs::Append(const BadInputs& other) {
  unreadable.insert(unreadable.end(), other.unreadable.begin(), other.unreadable.end());
  not_text.insert(not_text.end(), other.not_text.begin(), other.not_text.end());
  invalid_json.insert(invalid_json.end(), other.invalid_json.begin(), other.invalid_json.end());
  empty.insert(empty.end(), other.empty.begin(), other.empty.end());
}

absl::StatusOr<std::vector<InputFile>> ListInputs(const std::vector<std::string>& inputs,
                                                  const std::string& language_from,
                                                  BadInputs* bad) {
  std::regex pattern;
  try {
    if (!language_from.empty()) pattern = std::regex(language_from);
  } catch (const std::regex_error& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("--language_from: bad regex '", language_from, "': ", e.what()));
  }
  auto language_of = [&](const std::string& path, const std::string& explicit_language) {
    if (!explicit_language.empty()) return explicit_language;
    std::smatch m;
    if (!language_from.empty() && std::regex_search(path, m, pattern) && m.size() > 1) {
      return m[1].str();
    }
    return std::string("und");
  };
  std::vector<InputFile> files;
  for (const std::string& input : inputs) {
    const size_t eq = input.rfind('=');
    const std::string path = eq == std::string::npos ? input : input.substr(0, eq);
    const std::string language = eq == std::string::npos ? "" : input.substr(eq + 1);
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      std::vector<std::string> found;
      for (auto it = fs::recursive_directory_iterator(path, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file(ec)) found.push_back(it->path().string());
      }
      if (ec) bad->unreadable.push_back(absl::StrCat(path, ": ", ec.message()));
      std::sort(found.begin(), found.end());
      for (const std::string& f : found) files.push_back({f, language_of(f, language)});
    } else if (fs::exists(path, ec)) {
      files.push_back({path, language_of(path, language)});
    } else {
      bad->unreadable.push_back(absl::StrCat(path, ": no such file or directory"));
    }
  }
  return files;
}

namespace {

bool IsBlank(absl::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
}

// Lines of `content` without their '\n'.
std::vector<absl::string_view> Lines(absl::string_view content) {
  std::vector<absl::string_view> lines;
  while (!content.empty()) {
    size_t nl = content.find('\n');
    lines.push_back(content.substr(0, nl));
    content = nl == absl::string_view::npos ? "" : content.substr(nl + 1);
  }
  return lines;
}

struct Cutter {
  const InputFile& file;
  BadInputs* bad;
  std::vector<RawDocument> docs;
  int64_t ordinal = 0;

  // Adds `text` as a document (or reports it empty) and numbers it.
  void Add(std::string text, const std::string& where) {
    if (IsBlank(text)) {
      bad->empty.push_back(where);
    } else {
      docs.push_back({std::move(text), file.language, absl::StrCat(file.path, ":", ordinal)});
    }
    ++ordinal;
  }
};

void CutText(absl::string_view content, Separator separator, Cutter* cut) {
  const std::string& path = cut->file.path;
  if (separator == Separator::kFile) {
    cut->Add(std::string(content), path);
    return;
  }
  std::string current;
  int64_t line_number = 0;
  bool any = false;
  auto flush = [&](bool report_empty) {
    if (any || report_empty) cut->Add(std::move(current), absl::StrCat(path, ":", line_number));
    current.clear();
    any = false;
  };
  for (absl::string_view line : Lines(content)) {
    ++line_number;
    if (separator == Separator::kLine) {
      cut->Add(std::string(absl::StripSuffix(line, "\r")), absl::StrCat(path, ":", line_number));
    } else if (separator == Separator::kBlank && IsBlank(line)) {
      flush(false);
    } else if (separator == Separator::kPercent &&
               absl::StripAsciiWhitespace(line) == "%") {
      flush(true);
    } else {
      if (any) current.push_back('\n');
      current.append(line.data(), line.size());
      any = true;
    }
  }
  if (any) flush(false);
}

void CutJsonLines(absl::string_view content, const ReadOptions& options, Cutter* cut) {
  int64_t line_number = 0;
  for (absl::string_view line : Lines(content)) {
    ++line_number;
    const std::string where = absl::StrCat(cut->file.path, ":", line_number);
    if (IsBlank(line)) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      cut->bad->invalid_json.push_back(where + ": not a JSON object");
      continue;
    }
    auto text = j.find(options.text_field);
    if (text == j.end() || !text->is_string()) {
      cut->bad->invalid_json.push_back(
          absl::StrCat(where, ": no string field \"", options.text_field, "\""));
      continue;
    }
    const size_t before = cut->docs.size();
    cut->Add(text->get<std::string>(), where);
    auto language = options.language_field.empty() ? j.end() : j.find(options.language_field);
    if (cut->docs.size() > before && language != j.end() && language->is_string()) {
      cut->docs.back().language = language->get<std::string>();
    }
    if (cut->docs.size() > before) cut->docs.back().id = where;
  }
}

}  // namespace

// The fraction of `content` that is invalid UTF-8 or NUL.
double NonTextFraction(std::string_view content) {
  if (content.empty()) return 0;
  const int64_t nul = std::count(content.begin(), content.end(), '\0');
  return static_cast<double>(InvalidUtf8Bytes(content) + nul) / content.size();
}

std::vector<RawDocument> ReadDocuments(const InputFile& file, const ReadOptions& options,
                                       BadInputs* bad) {
  std::ifstream in(file.path, std::ios::binary);
  std::string content;
  if (in.is_open()) {
    content.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  if (!in.is_open() || in.bad()) {
    bad->unreadable.push_back(absl::StrCat(file.path, ": ", std::strerror(errno)));
    return {};
  }
  const Compression compression = DetectCompression(content);
  if (compression != Compression::kNone) {
    absl::StatusOr<std::string> plain = Decompress(file.path, compression, content);
    if (!plain.ok()) {
      bad->unreadable.push_back(std::string(plain.status().message()));
      return {};
    }
    content = *std::move(plain);
  }
  if (const double fraction = NonTextFraction(content);
      !options.allow_binary && fraction > kMaxNonTextFraction) {
    bad->not_text.push_back(absl::StrFormat(
        "%s: %.0f%% of its%s bytes are not UTF-8 text (binary, or compressed in a format "
        "other than gzip, zstd and xz); --allow_binary keeps it",
        file.path, 100 * fraction, compression == Compression::kNone ? "" : " decompressed"));
    return {};
  }
  Cutter cut{file, bad};
  if (options.format == InputFormat::kJsonLines) {
    CutJsonLines(content, options, &cut);
  } else {
    CutText(content, options.separator, &cut);
  }
  if (cut.ordinal == 0 && cut.bad->invalid_json.empty()) {
    bad->empty.push_back(file.path + " (no documents in the file)");
  }
  return std::move(cut.docs);
}

}  // namespace spacebyte::data
