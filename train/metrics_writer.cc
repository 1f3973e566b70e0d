#include "train/metrics_writer.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace spacebyte::trainer {
namespace {

std::string Duration(double seconds) {
  const int64_t s = static_cast<int64_t>(seconds);
  if (s >= 3600) return absl::StrFormat("%dh%02dm", s / 3600, s / 60 % 60);
  return absl::StrFormat("%dm%02ds", s / 60, s % 60);
}

// Keeps the lines of `path` whose step is at most `step`. Written aside and
// renamed, so a crash here cannot lose the lines being kept.
void TruncateAfter(const std::string& path, int64_t step) {
  std::ifstream in(path);
  std::vector<std::string> kept;
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_discarded() && j.value("step", int64_t{0}) <= step) kept.push_back(line);
  }
  in.close();
  const std::string rewritten = path + ".tmp";
  std::ofstream out(rewritten, std::ios::trunc);
  for (const std::string& line : kept) out << line << "\n";
  out.close();
  if (out) std::rename(rewritten.c_str(), path.c_str());
}

}  // namespace

double EtaSeconds(double elapsed_s, int64_t first_step, int64_t step, int64_t steps) {
  if (step <= first_step) return 0;
  return elapsed_s * static_cast<double>(steps - step) / static_cast<double>(step - first_step);
}

MetricsWriter::MetricsWriter(const std::string& path, bool active, int64_t resume_step,
                             const std::string& tensorboard_dir)
    : path_(path), active_(active), terminal_(isatty(STDERR_FILENO)), first_step_(resume_step) {
  if (!active_) return;
  if (resume_step > 0) {
    TruncateAfter(path, resume_step);
  }
  out_.open(path, resume_step > 0 ? std::ios::app : std::ios::trunc);
  if (tensorboard_dir.empty()) return;
  absl::StatusOr<std::unique_ptr<TensorBoardWriter>> tb =
      TensorBoardWriter::Open(tensorboard_dir, resume_step);
  if (tb.ok()) {
    tensorboard_ = std::move(*tb);
  } else {
    tensorboard_status_ = tb.status();
  }
}

MetricsWriter::~MetricsWriter() = default;

absl::Status MetricsWriter::status() const {
  if (!active_) return absl::OkStatus();
  if (!out_) return absl::UnavailableError(absl::StrCat("cannot write ", path_));
  return tensorboard_status_;
}

// The line, then every number of it but the step and the run's length,
// nested maps one level deep (the per-language figures), as TensorBoard
// scalars.
void MetricsWriter::Record(int64_t step, const std::string& prefix, const nlohmann::json& line) {
  out_ << line.dump() << "\n" << std::flush;
  if (!tensorboard_ || !tensorboard_status_.ok()) return;
  std::vector<std::pair<std::string, double>> values;
  for (const auto& [key, value] : line.items()) {
    if (key == "step" || key == "steps") continue;
    if (value.is_number()) values.emplace_back(absl::StrCat(prefix, "/", key), value.get<double>());
    if (!value.is_object()) continue;
    for (const auto& [sub, v] : value.items()) {
      if (v.is_number()) values.emplace_back(absl::StrCat(prefix, "/", key, "/", sub), v.get<double>());
    }
  }
  tensorboard_status_ = tensorboard_->Scalars(step, values);
}

void MetricsWriter::ClearProgress() {
  if (terminal_) std::cerr << "\r\033[K";
}

void MetricsWriter::Train(const TrainMetrics& m) {
  if (!active_) return;
  Record(m.step, "train", ToJson(m));
  ClearProgress();
  std::cout << absl::StrFormat(
                   "step %d/%d | loss %.4f | bpb %.4f | lr %.3g | gnorm %.3f | %.1f kB/s | "
                   "%.2f GFLOP/s%s | ignored %.2f%%",
                   m.step, m.steps, m.loss, m.bits_per_byte(), m.lr, m.grad_norm, m.bytes_per_s / 1e3,
                   m.flops_per_s / 1e9,
                   m.mfu ? absl::StrFormat(" | MFU %.1f%%", 100 * *m.mfu) : "",
                   100 * m.ignored_fraction)
            << std::endl;
  if (terminal_ && m.steps > 0) {
    const double done = static_cast<double>(m.step) / m.steps;
    const int width = 30, filled = static_cast<int>(done * width);
    const double eta = EtaSeconds(m.elapsed_s, first_step_, m.step, m.steps);
    std::cerr << "[" << std::string(filled, '#') << std::string(width - filled, '.') << "] "
              << absl::StrFormat("%3.0f%% ETA %s", 100 * done, Duration(eta)) << std::flush;
  }
}

void MetricsWriter::Eval(const EvalResult& r) {
  if (!active_) return;
  Record(r.step, r.split, ToJson(r));
  ClearProgress();
  std::cout << absl::StrFormat(
                   "eval %s step %d | loss %.4f | bpb %.4f | coverage %.3f | %d windows, %d languages",
                   r.split, r.step, r.loss, r.bits_per_byte(), r.coverage, r.windows,
                   r.bits_per_byte_by_language.size())
            << std::endl;
}

void MetricsWriter::Message(const std::string& text) {
  if (!active_) return;
  ClearProgress();
  std::cout << text << std::endl;
}

}  // namespace spacebyte::trainer
