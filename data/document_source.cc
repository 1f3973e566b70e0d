#include "data/document_source.h"

#include <algorithm>
#include <filesystem>
#include <regex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "data/decompress.h"
#include "data/utf8.h"
#include "simdjson.h"

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

void BadList::Add(std::string item) {
  if (shown.size() < kShown) shown.push_back(std::move(item));
  ++count;
}

void BadList::Append(const BadList& other) {
  for (size_t i = 0; i < other.shown.size() && shown.size() < kShown; ++i) {
    shown.push_back(other.shown[i]);
  }
  count += other.count;
}

void BadInputs::Append(const BadInputs& other) {
  unreadable.Append(other.unreadable);
  not_text.Append(other.not_text);
  invalid_json.Append(other.invalid_json);
  empty.Append(other.empty);
}

std::pair<std::string, std::string> SplitInput(const std::string& input) {
  std::error_code ec;
  const size_t eq = input.rfind('=');
  if (eq == std::string::npos || fs::exists(input, ec)) return {input, ""};
  return {input.substr(0, eq), input.substr(eq + 1)};
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
  auto add = [&](const std::string& input, const std::string& path,
                 const std::string& language) -> absl::Status {
    InputFile file{path, language_of(path, language)};
    if (file.language.empty()) {  // --language_from '()' matched nothing
      return absl::InvalidArgumentError(absl::StrCat("--input ", input, ": --language_from gives ",
                                                     Utf8OrEscaped(path), " an empty language"));
    }
    if (InvalidUtf8Bytes(file.language) > 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--input ", input, ": language '", Utf8OrEscaped(file.language),
                       "' of ", Utf8OrEscaped(path), " is not valid UTF-8; name it with PATH=LANG"));
    }
    files.push_back(std::move(file));
    return absl::OkStatus();
  };
  for (const std::string& input : inputs) {
    std::error_code ec;
    const auto [path, language] = SplitInput(input);
    const fs::file_status status = fs::status(path, ec);
    if (fs::is_directory(status)) {
      std::vector<std::string> found;
      for (auto it = fs::recursive_directory_iterator(path, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file(ec)) found.push_back(it->path().string());
      }
      if (ec) bad->unreadable.Add(absl::StrCat(path, ": ", ec.message()));
      std::sort(found.begin(), found.end());
      for (const std::string& f : found) {
        if (absl::Status s = add(input, f, language); !s.ok()) return s;
      }
    } else if (fs::is_regular_file(status)) {
      if (absl::Status s = add(input, path, language); !s.ok()) return s;
    } else if (fs::exists(status)) {
      bad->unreadable.Add(absl::StrCat(path, ": not a regular file (a pipe or a device)"));
    } else {
      bad->unreadable.Add(absl::StrCat(path, ": no such file or directory"));
    }
  }
  return files;
}

namespace {

bool IsBlank(absl::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
}

// Cuts a file's lines into documents as they arrive, by separator or one
// JSON object per line, and hands each to `emit`.
class Cutter {
 public:
  Cutter(const InputFile& file, const ReadOptions& options, BadInputs* bad,
         const std::function<bool(RawDocument)>& emit)
      : file_(file), options_(options), bad_(bad), emit_(emit) {}

  // The next line, without its '\n'. False once `emit` has said stop.
  bool Line(absl::string_view line) {
    ++line_number_;
    if (options_.format == InputFormat::kJsonLines) return JsonLine(line);
    switch (options_.separator) {
      case Separator::kLine:
        return Add(std::string(absl::StripSuffix(line, "\r")), line_number_);
      case Separator::kBlank:
        if (IsBlank(line)) return Flush(false);
        break;
      case Separator::kPercent:
        if (absl::StripAsciiWhitespace(line) == "%") return Flush(true);
        break;
      case Separator::kFile:
        break;
    }
    if (any_) current_.push_back('\n');
    current_.append(line.data(), line.size());
    any_ = true;
    if (current_.size() > kMaxDocumentBytes) {
      too_long_ = true;
      return false;
    }
    return true;
  }
  // After the last line.
  bool End() { return !any_ || Flush(false); }
  // The whole file as one document (separator "file").
  bool Whole(std::string content) { return Add(std::move(content), /*line=*/0); }
  int64_t documents_seen() const { return ordinal_; }
  bool too_long() const { return too_long_; }

 private:
  std::string Where(int64_t line) const {
    return line == 0 ? file_.path : absl::StrCat(file_.path, ":", line);
  }

  // Adds `text`, which ends on `line` (0: the whole file), as a document,
  // or reports it empty, and numbers it. An empty `id` means "path:ordinal".
  bool Add(std::string text, int64_t line, std::string id = "", std::string language = "") {
    const int64_t ordinal = ordinal_++;
    if (IsBlank(text)) {
      bad_->empty.Add(Where(line));
      return true;
    }
    if (id.empty()) id = absl::StrCat(file_.path, ":", ordinal);
    return emit_({std::move(text), language.empty() ? file_.language : std::move(language),
                  std::move(id)});
  }

  bool Flush(bool report_empty) {
    bool go_on = true;
    if (any_ || report_empty) go_on = Add(std::move(current_), line_number_);
    current_.clear();
    any_ = false;
    return go_on;
  }

  // simdjson: the nlohmann parser held JSON Lines prep to ~70 MB/s.
  bool JsonLine(absl::string_view line) {
    if (IsBlank(line)) return true;
    const std::string where = Where(line_number_);
    simdjson::dom::object object;
    if (json_.parse(line.data(), line.size()).get(object) != simdjson::SUCCESS) {
      bad_->invalid_json.Add(where + ": not a JSON object");
      return true;
    }
    std::string_view text;
    if (object[options_.text_field].get(text) != simdjson::SUCCESS) {
      bad_->invalid_json.Add(
          absl::StrCat(where, ": no string field \"", options_.text_field, "\""));
      return true;
    }
    std::string_view language;
    if (options_.language_field.empty() ||
        object[options_.language_field].get(language) != simdjson::SUCCESS) {
      language = {};
    }
    return Add(std::string(text), line_number_, where, std::string(language));
  }

  const InputFile& file_;
  const ReadOptions& options_;
  BadInputs* bad_;
  const std::function<bool(RawDocument)>& emit_;
  simdjson::dom::parser json_;
  std::string current_;  // lines of the document being cut
  bool any_ = false;     // current_ holds at least one line
  int64_t line_number_ = 0;
  int64_t ordinal_ = 0;
  bool too_long_ = false;  // a document passed kMaxDocumentBytes
};

// Hands every complete line at the front of *buffer to `cut` and removes
// them, leaving the unfinished last line.
bool CutLines(std::string* buffer, Cutter* cut) {
  absl::string_view rest(*buffer);
  bool go_on = true;
  for (size_t nl; go_on && (nl = rest.find('\n')) != absl::string_view::npos;) {
    go_on = cut->Line(rest.substr(0, nl));
    rest.remove_prefix(nl + 1);
  }
  buffer->erase(0, buffer->size() - rest.size());
  return go_on;
}

// The fraction of `content` that is invalid UTF-8 or NUL.
double NonTextFraction(std::string_view content) {
  if (content.empty()) return 0;
  const int64_t nul = std::count(content.begin(), content.end(), '\0');
  return static_cast<double>(InvalidUtf8Bytes(content) + nul) / content.size();
}

}  // namespace

absl::Status ReadDocuments(const InputFile& file, const ReadOptions& options, BadInputs* bad,
                           const std::function<bool(RawDocument)>& emit) {
  absl::StatusOr<std::unique_ptr<ByteStream>> opened = ByteStream::OpenFile(file.path);
  if (!opened.ok()) return opened.status();
  ByteStream& stream = **opened;
  std::string buffer;
  bool more = true;
  // Reads up to `bytes` more into the buffer; false at the end.
  auto read = [&](size_t bytes) -> absl::Status {
    absl::StatusOr<size_t> n = stream.Read(bytes, &buffer);
    if (!n.ok()) return n.status();
    more = *n > 0;
    return absl::OkStatus();
  };
  while (more && buffer.size() < kSniffBytes) {
    if (absl::Status s = read(kSniffBytes - buffer.size()); !s.ok()) return s;
  }
  // A byte order mark is no text: in JSON Lines it made the first line
  // invalid JSON.
  if (absl::StartsWith(buffer, "\xEF\xBB\xBF")) buffer.erase(0, 3);
  if (const double fraction = NonTextFraction(buffer);
      !options.allow_binary && fraction > kMaxNonTextFraction) {
    bad->not_text.Add(absl::StrFormat(
        "%s: %.0f%% of its%s bytes are not UTF-8 text (binary, or compressed in a format "
        "other than gzip, zstd and xz); --allow_binary keeps it",
        file.path, 100 * fraction, stream.compression() == Compression::kNone ? "" : " decompressed"));
    return absl::OkStatus();
  }
  Cutter cut(file, options, bad, emit);
  const bool whole_file =
      options.format == InputFormat::kText && options.separator == Separator::kFile;
  const int64_t invalid_json_before = bad->invalid_json.count;
  const absl::Status too_long = absl::InvalidArgumentError(absl::StrCat(
      file.path, ": a ", whole_file ? "document" : "document or line", " longer than ",
      kMaxDocumentBytes >> 30, " GiB", whole_file ? " (cut the file with --separator)" : ""));
  bool go_on = true;
  while (true) {
    if (!whole_file) go_on = CutLines(&buffer, &cut);
    // The buffer holds the whole file, or an unfinished line.
    if (cut.too_long() || buffer.size() > kMaxDocumentBytes) return too_long;
    if (!go_on || !more) break;
    if (absl::Status s = read(kSniffBytes); !s.ok()) return s;
  }
  if (go_on) {
    if (whole_file) {
      go_on = cut.Whole(std::move(buffer));
    } else {
      go_on = (buffer.empty() || cut.Line(buffer)) && cut.End();
    }
  }
  if (cut.too_long()) return too_long;
  if (!go_on) return absl::CancelledError("prep stopped");
  if (cut.documents_seen() == 0 && bad->invalid_json.count == invalid_json_before) {
    bad->empty.Add(file.path + " (no documents in the file)");
  }
  return absl::OkStatus();
}

}  // namespace spacebyte::data
