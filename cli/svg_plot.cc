#include "cli/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace spacebyte::trainer {
namespace {

constexpr double kWidth = 640, kHeight = 300;
constexpr double kLeft = 64, kRight = 150, kTop = 30, kBottom = 44;  // margins
constexpr const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                   "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};
constexpr size_t kMarkerLimit = 30;  // series with this many points or fewer get dots

struct Range {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  void Add(double v) { lo = std::min(lo, v), hi = std::max(hi, v); }
  bool empty() const { return lo > hi; }
};

// A round tick step giving about five ticks over [lo, hi].
double TickStep(double lo, double hi) {
  const double raw = (hi - lo) / 5;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0}) {
    if (raw <= m * magnitude) return m * magnitude;
  }
  return 10 * magnitude;
}

// Widens a degenerate range and snaps it outward to whole ticks.
Range NiceRange(Range r) {
  if (r.hi - r.lo < 1e-12 * std::max(1.0, std::abs(r.hi))) {
    const double pad = r.hi == 0 ? 1 : std::abs(r.hi) * 0.1;
    r.lo -= pad, r.hi += pad;
  }
  const double step = TickStep(r.lo, r.hi);
  return {std::floor(r.lo / step) * step, std::ceil(r.hi / step) * step};
}

struct Frame {
  Range x, y;
  double px(double v) const {
    return kLeft + (v - x.lo) / (x.hi - x.lo) * (kWidth - kLeft - kRight);
  }
  double py(double v) const {
    return kHeight - kBottom - (v - y.lo) / (y.hi - y.lo) * (kHeight - kTop - kBottom);
  }
};

std::string Axes(const Frame& f, const PlotLabels& labels) {
  std::string svg = absl::StrFormat(
      "<rect x='%g' y='%g' width='%g' height='%g' fill='none' stroke='#999'/>\n", kLeft, kTop,
      kWidth - kLeft - kRight, kHeight - kTop - kBottom);
  const double x_step = TickStep(f.x.lo, f.x.hi), y_step = TickStep(f.y.lo, f.y.hi);
  for (double v = f.x.lo; v <= f.x.hi + x_step / 2; v += x_step) {
    absl::StrAppendFormat(&svg, "<text x='%.1f' y='%g' text-anchor='middle'>%s</text>\n",
                          f.px(v), kHeight - kBottom + 16, FormatNumber(v));
  }
  for (double v = f.y.lo; v <= f.y.hi + y_step / 2; v += y_step) {
    absl::StrAppendFormat(&svg,
                          "<line x1='%g' x2='%g' y1='%.1f' y2='%.1f' stroke='#eee'/>"
                          "<text x='%g' y='%.1f' text-anchor='end'>%s</text>\n",
                          kLeft, kWidth - kRight, f.py(v), f.py(v), kLeft - 6, f.py(v) + 4,
                          FormatNumber(v));
  }
  absl::StrAppendFormat(&svg,
                        "<text x='%g' y='18' font-weight='bold'>%s</text>\n"
                        "<text x='%g' y='%g' text-anchor='middle'>%s</text>\n"
                        "<text transform='translate(14 %g) rotate(-90)' "
                        "text-anchor='middle'>%s</text>\n",
                        kLeft, HtmlEscape(labels.title), (kLeft + kWidth - kRight) / 2,
                        kHeight - 8, HtmlEscape(labels.x), (kTop + kHeight - kBottom) / 2,
                        HtmlEscape(labels.y));
  return svg;
}

std::string SeriesSvg(const Frame& f, const Series& s, const char* color, size_t index) {
  std::string path, dots;
  size_t count = 0;
  for (const auto& [x, y] : s.points) count += std::isfinite(x) && std::isfinite(y);
  for (const auto& [x, y] : s.points) {
    if (!std::isfinite(x) || !std::isfinite(y)) continue;
    absl::StrAppendFormat(&path, "%s%.1f %.1f", path.empty() ? "M" : " L", f.px(x), f.py(y));
    if (count <= kMarkerLimit) {
      absl::StrAppendFormat(&dots, "<circle cx='%.1f' cy='%.1f' r='3' fill='%s'/>", f.px(x),
                            f.py(y), color);
    }
  }
  const double legend_y = kTop + 8 + 18 * index;
  return absl::StrFormat(
      "<path class='series' data-name='%s' d='%s' fill='none' stroke='%s' stroke-width='2'/>%s\n"
      "<line x1='%g' x2='%g' y1='%g' y2='%g' stroke='%s' stroke-width='3'/>"
      "<text x='%g' y='%g'>%s</text>\n",
      HtmlEscape(s.name), path, color, dots, kWidth - kRight + 10, kWidth - kRight + 30,
      legend_y, legend_y, color, kWidth - kRight + 35, legend_y + 4, HtmlEscape(s.name));
}

}  // namespace

std::string LinePlotSvg(const std::vector<Series>& series, const PlotLabels& labels) {
  Frame frame;
  for (const Series& s : series) {
    for (const auto& [x, y] : s.points) {
      if (std::isfinite(x) && std::isfinite(y)) frame.x.Add(x), frame.y.Add(y);
    }
  }
  if (frame.x.empty()) return "";
  frame.x = NiceRange(frame.x);
  frame.y = NiceRange(frame.y);
  std::string svg = absl::StrFormat(
      "<svg xmlns='http://www.w3.org/2000/svg' width='%g' height='%g' viewBox='0 0 %g %g' "
      "font-family='sans-serif' font-size='11'>\n",
      kWidth, kHeight, kWidth, kHeight);
  svg += Axes(frame, labels);
  for (size_t i = 0; i < series.size(); ++i) {
    svg += SeriesSvg(frame, series[i], kColors[i % std::size(kColors)], i);
  }
  return svg + "</svg>\n";
}

std::string HtmlEscape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string FormatNumber(double value) {
  if (!std::isfinite(value)) return "–";
  if (std::abs(value) < 1e-12) return "0";
  // Whole numbers up to millions (steps, bytes/s) read better without exponent.
  if (std::abs(value) >= 1e3 && std::abs(value) < 1e7 && value == std::round(value)) {
    return absl::StrFormat("%.0f", value);
  }
  return absl::StrFormat("%.4g", value);
}

}  // namespace spacebyte::trainer
