#include "train/config_file.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

namespace spacebyte::trainer {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::TextFormat;

// Collects the parser's first error with its position.
class ErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (first_.empty()) first_ = absl::StrCat(line + 1, ":", column + 1, ": ", message);
  }
  const std::string& first() const { return first_; }

 private:
  std::string first_;
};

}  // namespace

absl::StatusOr<proto::RunConfig> ReadRunConfig(const std::string& path) {
  if (std::filesystem::is_directory(path)) {
    return absl::InvalidArgumentError(absl::StrCat("config ", path, " is a directory, not a file"));
  }
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open config ", path));
  std::stringstream text;
  text << in.rdbuf();
  proto::RunConfig config;
  TextFormat::Parser parser;
  ErrorCollector errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(text.str(), &config)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ":", errors.first()));
  }
  return config;
}

absl::Status ApplyOverride(const std::string& assignment, proto::RunConfig* config) {
  const std::vector<std::string> kv = absl::StrSplit(assignment, absl::MaxSplits('=', 1));
  if (kv.size() != 2 || kv[0].empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--set wants field.path=value, got '", assignment, "'"));
  }
  const std::vector<std::string> path = absl::StrSplit(kv[0], '.');
  Message* message = config;
  for (size_t i = 0; i < path.size(); ++i) {
    const Descriptor* type = message->GetDescriptor();
    const FieldDescriptor* field = type->FindFieldByName(path[i]);
    if (field == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--set ", kv[0], ": ", type->name(), " has no field '", path[i], "'"));
    }
    const bool last = i + 1 == path.size();
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (last || field->is_repeated()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--set ", kv[0], ": cannot set a message field; name one of its fields"));
      }
      message = message->GetReflection()->MutableMessage(message, field);
      continue;
    }
    if (!last) {
      return absl::InvalidArgumentError(
          absl::StrCat("--set ", kv[0], ": '", path[i], "' is not a message"));
    }
    if (field->is_repeated()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--set ", kv[0], ": repeated fields are set in the config file"));
    }
    // Strings may be given bare: --set model.kind=transformer.
    std::string value = kv[1];
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_STRING &&
        (value.empty() || value.front() != '"')) {
      value = absl::StrCat("\"", absl::CEscape(value), "\"");
    }
    TextFormat::Parser parser;
    ErrorCollector errors;  // keeps protobuf from logging; we report below
    parser.RecordErrorsTo(&errors);
    if (!parser.ParseFieldValueFromString(value, field, message)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--set ", kv[0], ": '", kv[1], "' is not a valid ", field->type_name()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<proto::RunConfig> LoadRunConfig(const std::string& path,
                                               const std::vector<std::string>& overrides) {
  absl::StatusOr<proto::RunConfig> config = ReadRunConfig(path);
  if (!config.ok()) return config;
  for (const std::string& o : overrides) {
    if (absl::Status s = ApplyOverride(o, &*config); !s.ok()) return s;
  }
  return config;
}

}  // namespace spacebyte::trainer
