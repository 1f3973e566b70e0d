#include "cli/report.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/svg_plot.h"
#include "data/file_read.h"

namespace spacebyte::trainer {
namespace {

constexpr char kStyle[] =
    "body{font-family:sans-serif;max-width:980px;margin:24px auto;color:#222}"
    "h1{font-size:22px}h2{font-size:17px;margin-top:28px}"
    "table{border-collapse:collapse;font-size:13px}"
    "td,th{border:1px solid #ccc;padding:3px 10px;text-align:right}"
    "th{background:#f3f3f3}td:first-child{text-align:left}"
    "pre{background:#f6f6f6;padding:10px;font-size:12px;overflow-x:auto}"
    ".plots{display:flex;flex-wrap:wrap;gap:8px}";

template <typename Point, typename Field>
Series Curve(const std::string& name, const std::vector<Point>& points, Field field) {
  Series s{name, {}};
  for (const Point& p : points) s.points.emplace_back(static_cast<double>(p.step), field(p));
  return s;
}

std::vector<EvalResult> Split(const MetricsLog& log, const std::string& split) {
  std::vector<EvalResult> out;
  for (const EvalResult& p : log.eval) {
    if (p.split == split) out.push_back(p);
  }
  return out;
}

std::string Figure(const std::string& svg) { return svg.empty() ? "" : "<div>" + svg + "</div>"; }

std::string Summary(const MetricsLog& log, const std::vector<EvalResult>& validation,
                    const std::vector<EvalResult>& test) {
  std::string html = "<table><tr><th>figure</th><th>value</th></tr>";
  auto row = [&](const std::string& name, double value) {
    absl::StrAppend(&html, "<tr><td>", name, "</td><td>", FormatNumber(value), "</td></tr>");
  };
  if (!log.train.empty()) {
    absl::StrAppend(&html, "<tr><td>last training step</td><td>", log.train.back().step,
                    "</td></tr>");
    row("training bits/byte (last)", log.train.back().bits_per_byte());
    row("throughput, bytes/s (last)", log.train.back().bytes_per_s);
  }
  if (!validation.empty()) {
    double best = NAN;
    for (const EvalResult& p : validation) best = std::fmin(best, p.bits_per_byte());
    row("validation bits/byte (last)", validation.back().bits_per_byte());
    row("validation bits/byte (best)", best);
  }
  if (!test.empty()) row("test bits/byte (last)", test.back().bits_per_byte());
  return html + "</table>";
}

// The latest per-language values of each split, and curves for the
// kPlottedLanguages languages with the lowest latest validation bits/byte.
std::string Languages(const std::vector<EvalResult>& validation,
                      const std::vector<EvalResult>& test) {
  if (validation.empty() || validation.back().bits_per_byte_by_language.empty()) return "";
  const auto& latest = validation.back().bits_per_byte_by_language;
  std::vector<std::pair<double, std::string>> ranked;
  for (const auto& [language, value] : latest) ranked.emplace_back(value, language);
  std::sort(ranked.begin(), ranked.end());
  std::vector<Series> curves;
  for (size_t i = 0; i < std::min(ranked.size(), kPlottedLanguages); ++i) {
    const std::string& language = ranked[i].second;
    curves.push_back(Curve(language, validation, [&](const EvalResult& p) {
      const auto it = p.bits_per_byte_by_language.find(language);
      return it == p.bits_per_byte_by_language.end() ? NAN : it->second;
    }));
  }
  const EvalResult& last = validation.back();
  auto at = [](const std::map<std::string, double>& values, const std::string& language) {
    const auto it = values.find(language);
    return it == values.end() ? NAN : it->second;
  };
  // How the patch rule treats each language next to how well it is
  // modelled: one point per language, in order of bytes per patch.
  std::vector<std::pair<double, double>> by_patch;
  for (const auto& [value, language] : ranked) {
    by_patch.emplace_back(at(last.bytes_per_patch_by_language, language), value);
  }
  std::sort(by_patch.begin(), by_patch.end());
  const std::map<std::string, double> no_test;
  const auto& test_latest = test.empty() ? no_test : test.back().bits_per_byte_by_language;
  std::string html = absl::StrCat(
      "<h2>Bits per byte by language</h2><div class='plots'>",
      Figure(LinePlotSvg(curves, {absl::StrCat("Validation, ", curves.size(),
                                               " best-modelled languages"),
                                  "step", "bits/byte"})),
      Figure(LinePlotSvg({{"languages", by_patch}},
                         {"Validation bits/byte against bytes per patch, one point per language",
                          "bytes per patch", "bits/byte"})),
      "</div><p>Latest values, step ", last.step, ", coverage ", FormatNumber(last.coverage),
      " of the validation bytes. Ignored: the share of targets past the global context in "
      "training's T-byte windows. Refused: the share of the boundaries the multilingual rule "
      "wanted that its budget turned down there; where it is large, a wider global context "
      "would change the patches.</p><table><tr><th>language</th><th>validation bits/byte</th>"
      "<th>test bits/byte</th><th>ignored</th><th>refused</th><th>bytes per patch</th></tr>");
  for (const auto& [value, language] : ranked) {
    absl::StrAppend(&html, "<tr><td>", HtmlEscape(language), "</td><td>", FormatNumber(value),
                    "</td><td>", FormatNumber(at(test_latest, language)), "</td><td>",
                    FormatNumber(at(last.ignored_fraction_by_language, language)), "</td><td>",
                    FormatNumber(at(last.refused_fraction_by_language, language)), "</td><td>",
                    FormatNumber(at(last.bytes_per_patch_by_language, language)), "</td></tr>");
  }
  return html + "</table>";
}

}  // namespace

std::string RenderReport(const MetricsLog& log, const std::string& title,
                         const std::string& config_text) {
  const std::vector<EvalResult> validation = Split(log, "validation"), test = Split(log, "test");
  auto bpb = [](const auto& p) { return p.bits_per_byte(); };
  const std::string curves = LinePlotSvg(
      {Curve("training", log.train, bpb), Curve("validation", validation, bpb),
       Curve("test", test, bpb)},
      {"Bits per byte", "step", "bits/byte"});
  const std::string loss = LinePlotSvg(
      {Curve("training", log.train, [](const TrainMetrics& p) { return p.loss; })},
      {"Training loss", "step", "loss (nats)"});
  const std::string throughput = LinePlotSvg(
      {Curve("training", log.train, [](const TrainMetrics& p) { return p.bytes_per_s; })},
      {"Throughput", "step", "bytes/s"});
  std::string html = absl::StrCat(
      "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>", HtmlEscape(title),
      "</title><style>", kStyle, "</style></head><body>\n<h1>", HtmlEscape(title), "</h1>\n",
      Summary(log, validation, test), "\n<h2>Loss</h2><div class='plots'>", Figure(curves),
      Figure(loss), "</div>\n<h2>Throughput</h2><div class='plots'>", Figure(throughput),
      "</div>\n", Languages(validation, test));
  if (log.train.empty() && log.eval.empty()) html += "<p>metrics.jsonl holds no lines yet.</p>";
  if (!config_text.empty()) {
    absl::StrAppend(&html, "\n<h2>Resolved config</h2><pre>", HtmlEscape(config_text), "</pre>");
  }
  return html + "\n</body></html>\n";
}

absl::StatusOr<std::string> WriteRunReport(const std::string& run_dir) {
  const std::filesystem::path dir(run_dir);
  absl::StatusOr<MetricsLog> log = ReadMetricsLog((dir / "metrics.jsonl").string());
  if (!log.ok()) return log.status();
  absl::StatusOr<std::string> config_text = data::ReadWholeFile((dir / "config.textproto").string());
  if (absl::IsNotFound(config_text.status())) config_text = "";
  if (!config_text.ok()) return config_text.status();
  const std::string path = (dir / "report.html").string();
  std::ofstream out(path);
  out << RenderReport(*log, "Run " + std::filesystem::absolute(dir).lexically_normal().string(),
                      *config_text);
  if (!out.flush()) return absl::InternalError(absl::StrCat("cannot write ", path));
  return path;
}

}  // namespace spacebyte::trainer
