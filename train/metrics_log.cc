#include "train/metrics_log.h"

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace spacebyte::trainer {
namespace {

double Number(const nlohmann::json& line, const char* key) {
  const auto it = line.find(key);
  return it != line.end() && it->is_number() ? it->get<double>() : NAN;
}

// A per-language object; absent in lines of older runs.
absl::Status ParseByLanguage(const nlohmann::json& line, const char* key,
                             std::map<std::string, double>* out) {
  const auto languages = line.find(key);
  if (languages == line.end() || languages->is_null()) return absl::OkStatus();
  if (!languages->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("`", key, "` is not an object"));
  }
  for (const auto& [language, value] : languages->items()) {
    (*out)[language] = value.is_number() ? value.get<double>() : NAN;
  }
  return absl::OkStatus();
}

absl::StatusOr<EvalPoint> ParseEval(const nlohmann::json& line) {
  EvalPoint p;
  p.split = line["split"].is_string() ? line["split"].get<std::string>() : "";
  if (p.split.empty()) return absl::InvalidArgumentError("`split` is not a string");
  p.loss = Number(line, "loss");
  p.bits_per_byte = Number(line, "bits_per_byte");
  p.coverage = Number(line, "coverage");
  for (const auto& [key, out] :
       {std::pair{"bits_per_byte_by_language", &p.bits_per_byte_by_language},
        std::pair{"ignored_fraction_by_language", &p.ignored_fraction_by_language},
        std::pair{"bytes_per_patch_by_language", &p.bytes_per_patch_by_language}}) {
    if (absl::Status s = ParseByLanguage(line, key, out); !s.ok()) return s;
  }
  return p;
}

absl::Status ParseLine(const std::string& text, MetricsLog& log) {
  const nlohmann::json line = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (line.is_discarded()) return absl::InvalidArgumentError("not valid JSON");
  if (!line.is_object()) return absl::InvalidArgumentError("not a JSON object");
  const auto step = line.find("step");
  if (step == line.end() || !step->is_number_integer()) {
    return absl::InvalidArgumentError("no integer `step`");
  }
  if (line.contains("split")) {
    absl::StatusOr<EvalPoint> p = ParseEval(line);
    if (!p.ok()) return p.status();
    p->step = step->get<int64_t>();
    log.eval.push_back(std::move(*p));
    return absl::OkStatus();
  }
  log.train.push_back({step->get<int64_t>(), Number(line, "loss"), Number(line, "bits_per_byte"),
                       Number(line, "lr"), Number(line, "grad_norm"),
                       Number(line, "bytes_per_s")});
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<MetricsLog> ReadMetricsLog(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  MetricsLog log;
  std::string text;
  for (int64_t number = 1; std::getline(in, text); ++number) {
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (absl::Status s = ParseLine(text, log); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", number, ": ", s.message()));
    }
  }
  return log;
}

}  // namespace spacebyte::trainer
