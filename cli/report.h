#ifndef SPACEBYTE_CLI_REPORT_H_
#define SPACEBYTE_CLI_REPORT_H_

// `spacebyte report RUN_DIR`: one self-contained HTML page (inline SVG, no
// scripts or external files) drawn from RUN_DIR/metrics.jsonl, plus the
// resolved RUN_DIR/config.textproto when present.

#include <string>

#include "absl/status/statusor.h"
#include "train/metrics.h"

namespace spacebyte::trainer {

// Languages drawn as curves; the table lists all of them.
inline constexpr size_t kPlottedLanguages = 8;

// The page for a metrics log; `config_text` may be empty.
std::string RenderReport(const MetricsLog& log, const std::string& title,
                         const std::string& config_text);

// Reads the run directory, writes RUN_DIR/report.html, returns its path.
absl::StatusOr<std::string> WriteRunReport(const std::string& run_dir);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_CLI_REPORT_H_
