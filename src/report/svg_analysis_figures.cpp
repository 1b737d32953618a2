// The figures of the study's analysis (report/analysis.hpp): parameter importance as bars, and the
// objective's contour over pairs of parameters.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>

#include "report/svg_figure_parts.hpp"

namespace krill::report::svg {

namespace {

// A contour axis's value at u in [0, 1] of its range (linear or log).
double at(const Contour::Axis& a, double u) {
  return a.log ? std::exp(std::log(a.lo) + u * (std::log(a.hi) - std::log(a.lo)))
               : a.lo + u * (a.hi - a.lo);
}

}  // namespace

std::string importance_figure(const ReportData& data, const Analysis& analysis) {
  Svg svg(kWidth, kHeight);
  draw_title(svg, data, "parameter importance (PED-ANOVA)");
  const auto& params = analysis.importance.params;
  // The most important on top: a category axis runs bottom up.
  std::vector<std::string> names;
  for (auto it = params.rbegin(); it != params.rend(); ++it) names.push_back(shorten(it->name, 22));
  double most = 0;
  for (const auto& p : params) most = std::max(most, p.importance);
  const Frame frame{.left = 160, .top = 44, .width = 420, .height = 336};
  Axis x = Axis::linear(0, most > 0 ? most : 1), y = Axis::categories(names);
  draw_axes(svg, frame, x, y, "importance (share of the total)", "");
  if (!analysis.importance_note.empty()) {
    draw_note(svg, frame, analysis.importance_note);
    return svg.str();
  }
  const double pitch = frame.height / std::max<size_t>(1, params.size());
  const double h = std::min(pitch * 0.6, 30.0);
  for (size_t i = 0; i < params.size(); ++i) {
    const auto& p = params[i];
    const double cy = y.map(static_cast<double>(params.size() - 1 - i));
    const double x0 = x.map(0), x1 = x.map(p.importance);
    svg.open_group(fmt::format("{}: {:.4f}", p.name, p.importance));
    svg.rect(x0, cy - h / 2, std::max(x1 - x0, 0.5), h,
             SvgStyle{.fill = palette_color(0), .cls = "bar"});
    svg.close_group();
    svg.text(x1 + 4, cy + 4, fmt::format("{:.3f}", p.importance), Anchor::Start, 10);
  }
  const double lx = frame.right() + 14;
  svg.text(lx, frame.top + 10, fmt::format("{} completed trials", analysis.importance.trials),
           Anchor::Start, 11);
  svg.text(lx, frame.top + 26, fmt::format("top 10%: {}", analysis.importance.top_trials),
           Anchor::Start, 11);
  if (analysis.importance.top_trials < 5) {
    svg.text(lx, frame.top + 46, "fewer than 5 top", Anchor::Start, 10, "#a33");
    svg.text(lx, frame.top + 59, "trials: a rough", Anchor::Start, 10, "#a33");
    svg.text(lx, frame.top + 72, "estimate", Anchor::Start, 10, "#a33");
  }
  return svg.str();
}

std::string contour_figure(const ReportData& data, const Contour& c) {
  Svg svg(kWidth, kHeight);
  draw_title(svg, data, "objective over " + c.x.name + " and " + c.y.name);
  Frame frame{.left = 70, .top = 44, .width = 510, .height = 336};
  Axis x = c.x.log ? Axis::log(c.x.lo, c.x.hi) : Axis::linear(c.x.lo, c.x.hi);
  Axis y = c.y.log ? Axis::log(c.y.lo, c.y.hi) : Axis::linear(c.y.lo, c.y.hi);
  draw_axes(svg, frame, x, y, c.x.name + (c.x.log ? " (log)" : ""),
            c.y.name + (c.y.log ? " (log)" : ""));
  double lo = INFINITY, hi = -INFINITY;
  for (const auto& p : c.points) lo = std::min(lo, p.value), hi = std::max(hi, p.value);
  const bool maximize = data.study.direction == hpo::Direction::Maximize;
  auto shade = [&](double v) {
    const double t = hi > lo ? (v - lo) / (hi - lo) : 1.0;
    return viridis(maximize ? t : 1 - t);
  };
  const size_t n = c.x.cells.size(), m = c.y.cells.size();
  for (size_t row = 0; row < m; ++row) {
    const double y0 = y.map(at(c.y, static_cast<double>(row) / static_cast<double>(m)));
    const double y1 = y.map(at(c.y, static_cast<double>(row + 1) / static_cast<double>(m)));
    for (size_t col = 0; col < n; ++col) {
      const double x0 = x.map(at(c.x, static_cast<double>(col) / static_cast<double>(n)));
      const double x1 = x.map(at(c.x, static_cast<double>(col + 1) / static_cast<double>(n)));
      // A hair wider than the cell, so that no seam shows between neighbours.
      svg.rect(x0, y1, x1 - x0 + 0.8, y0 - y1 + 0.8,
               SvgStyle{.fill = shade(c.z[row][col]), .cls = "cell"});
    }
  }
  for (const auto& p : c.points) {
    svg.open_group(fmt::format("trial {}: {:.6g} ({}={}, {}={})", p.number, p.value, c.x.name,
                               hpo::to_string(hpo::ParamValue{p.x}), c.y.name,
                               hpo::to_string(hpo::ParamValue{p.y})));
    svg.circle(
        x.map(p.x), y.map(p.y), 3.5,
        SvgStyle{.fill = shade(p.value), .stroke = "#111111", .stroke_width = 1, .cls = "mark"});
    svg.close_group();
  }
  svg.rect(frame.left, frame.top, frame.width, frame.height,
           SvgStyle{.fill = "none", .stroke = "#444444", .stroke_width = 1});
  draw_color_bar(svg, frame, 40, lo, hi, maximize, true);
  return svg.str();
}

std::string contour_note_figure(const ReportData& data, const std::string& note) {
  Svg svg(kWidth, kHeight);
  draw_title(svg, data, "contours");
  draw_note(svg, Frame{}, note);
  return svg.str();
}

}  // namespace krill::report::svg
