#include "train/metrics.h"

#include <cmath>
#include <sstream>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "data/file_read.h"

namespace spacebyte::trainer {

double TrainMetrics::bits_per_byte() const { return loss / std::log(2.0); }
double EvalResult::bits_per_byte() const { return loss / std::log(2.0); }

nlohmann::json ToJson(const TrainMetrics& m) {
  return {{"step", m.step},
          {"steps", m.steps},
          {"loss", m.loss},
          {"bits_per_byte", m.bits_per_byte()},
          {"lr", m.lr},
          {"grad_norm", m.grad_norm},
          {"bytes_per_s", m.bytes_per_s},
          {"flops_per_s", m.flops_per_s},
          {"mfu", m.mfu ? nlohmann::json(*m.mfu) : nlohmann::json(nullptr)},
          {"ignored_fraction", m.ignored_fraction},
          {"bytes_seen", m.bytes_seen},
          {"elapsed_s", m.elapsed_s}};
}

nlohmann::json ToJson(const EvalResult& r) {
  nlohmann::json j = {{"loss", r.loss},
                      {"bits_per_byte", r.bits_per_byte()},
                      {"ignored_fraction", r.ignored_fraction},
                      {"windows", r.windows},
                      {"precision", r.precision}};
  if (r.split.empty()) return j;
  j["step"] = r.step;
  j["split"] = r.split;
  j["coverage"] = r.coverage;
  j["bits_per_byte_by_language"] = r.bits_per_byte_by_language;
  j["ignored_fraction_by_language"] = r.ignored_fraction_by_language;
  j["bytes_per_patch_by_language"] = r.bytes_per_patch_by_language;
  j["refused_fraction_by_language"] = r.refused_fraction_by_language;
  return j;
}

namespace {

double Number(const nlohmann::json& line, const char* key) {
  const auto it = line.find(key);
  return it != line.end() && it->is_number() ? it->get<double>() : NAN;
}

int64_t Count(const nlohmann::json& line, const char* key) {
  const auto it = line.find(key);
  return it != line.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
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

TrainMetrics ParseTrain(const nlohmann::json& line) {
  TrainMetrics m;
  m.steps = Count(line, "steps");
  m.loss = Number(line, "loss");
  m.lr = Number(line, "lr");
  m.grad_norm = Number(line, "grad_norm");
  m.bytes_per_s = Number(line, "bytes_per_s");
  m.flops_per_s = Number(line, "flops_per_s");
  if (const double mfu = Number(line, "mfu"); !std::isnan(mfu)) m.mfu = mfu;
  m.ignored_fraction = Number(line, "ignored_fraction");
  m.bytes_seen = Count(line, "bytes_seen");
  m.elapsed_s = Number(line, "elapsed_s");
  return m;
}

absl::StatusOr<EvalResult> ParseEval(const nlohmann::json& line) {
  EvalResult r;
  r.split = line["split"].is_string() ? line["split"].get<std::string>() : "";
  if (r.split.empty()) return absl::InvalidArgumentError("`split` is not a non-empty string");
  r.loss = Number(line, "loss");
  r.coverage = Number(line, "coverage");
  r.ignored_fraction = Number(line, "ignored_fraction");
  r.windows = Count(line, "windows");
  // Absent in lines of older runs.
  if (const auto it = line.find("precision"); it != line.end() && it->is_string()) {
    r.precision = it->get<std::string>();
  }
  for (const auto& [key, out] :
       {std::pair{"bits_per_byte_by_language", &r.bits_per_byte_by_language},
        std::pair{"ignored_fraction_by_language", &r.ignored_fraction_by_language},
        std::pair{"bytes_per_patch_by_language", &r.bytes_per_patch_by_language},
        std::pair{"refused_fraction_by_language", &r.refused_fraction_by_language}}) {
    if (absl::Status s = ParseByLanguage(line, key, out); !s.ok()) return s;
  }
  return r;
}

absl::Status ParseLine(const std::string& text, MetricsLog& log) {
  const nlohmann::json line = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (line.is_discarded()) return absl::InvalidArgumentError("not valid JSON");
  if (!line.is_object()) return absl::InvalidArgumentError("not a JSON object");
  const auto step = line.find("step");
  if (step == line.end() || !step->is_number_integer()) {
    return absl::InvalidArgumentError("no integer `step`");
  }
  if (!line.contains("split")) {
    log.train.push_back(ParseTrain(line));
    log.train.back().step = step->get<int64_t>();
    return absl::OkStatus();
  }
  absl::StatusOr<EvalResult> r = ParseEval(line);
  if (!r.ok()) return r.status();
  r->step = step->get<int64_t>();
  log.eval.push_back(std::move(*r));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<MetricsLog> ReadMetricsLog(const std::string& path) {
  // A directory or a pipe in its place is an error, not an empty log.
  absl::StatusOr<std::string> contents = data::ReadWholeFile(path);
  if (!contents.ok()) return contents.status();
  std::istringstream in(*contents);
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
