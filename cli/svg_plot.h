#ifndef SPACEBYTE_CLI_SVG_PLOT_H_
#define SPACEBYTE_CLI_SVG_PLOT_H_

// Line charts as inline SVG, for self-contained HTML reports (no scripts, no
// external files).

#include <string>
#include <utility>
#include <vector>

namespace spacebyte::trainer {

struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y); non-finite y skipped
};

struct PlotLabels {
  std::string title, x, y;
};

// One chart: axes with round tick values, one coloured path per series (with
// point markers when a series has few points) and a legend. Returns "" when
// no series has a finite point.
std::string LinePlotSvg(const std::vector<Series>& series, const PlotLabels& labels);

// Escapes &, <, >, " and ' for HTML text and attributes.
std::string HtmlEscape(const std::string& text);

// Compact number text: 4 significant digits, e.g. 1.234, 5.6e+07; whole
// numbers below 1e7 in full, e.g. 43000.
std::string FormatNumber(double value);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_CLI_SVG_PLOT_H_
