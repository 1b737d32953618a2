// The figures of parameters against the objective: a slice per dimension and parallel
// coordinates.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "report/svg_figure_parts.hpp"

namespace krill::report::svg {

namespace {

// How one dimension's values are placed on an axis: numbers on a linear or log scale, or
// categories (choices, and any dimension holding strings) evenly spaced in a fixed order.
struct ParamScale {
  Axis axis;
  std::string name;
  std::map<std::string, size_t> index;  // category label -> slot (categorical only)

  std::optional<double> coord(const hpo::TrialRecord& t) const {
    const auto it = t.params.find(name);
    if (it == t.params.end()) return std::nullopt;
    if (axis.kind() == Axis::Kind::Category) {
      const auto slot = index.find(hpo::to_string(it->second));
      if (slot == index.end()) return std::nullopt;
      return static_cast<double>(slot->second);
    }
    if (std::holds_alternative<std::string>(it->second)) return std::nullopt;
    const double v = hpo::as_double(it->second, name);
    if (!std::isfinite(v) || (axis.kind() == Axis::Kind::Log && !(v > 0))) return std::nullopt;
    return v;
  }
};

ParamScale param_scale(const DimensionInfo& dim,
                       const std::vector<const hpo::TrialRecord*>& trials) {
  ParamScale s{Axis::linear(0, 1), dim.name, {}};
  std::vector<const hpo::ParamValue*> values;
  for (const auto* t : trials) {
    const auto it = t->params.find(dim.name);
    if (it != t->params.end()) values.push_back(&it->second);
  }
  const bool strings = std::any_of(values.begin(), values.end(),
                                   [](auto* v) { return std::holds_alternative<std::string>(*v); });
  if (dim.kind == "choice" || strings) {
    // Numbers in increasing order, then strings in text order; each label once.
    std::vector<std::pair<std::pair<bool, double>, std::string>> keyed;
    for (const auto* v : values) {
      const bool is_string = std::holds_alternative<std::string>(*v);
      const double number = is_string ? 0.0 : hpo::as_double(*v, dim.name);
      keyed.push_back({{is_string, std::isfinite(number) ? number : 0.0}, hpo::to_string(*v)});
    }
    std::sort(keyed.begin(), keyed.end());
    std::vector<std::string> names;
    for (const auto& [key, label] : keyed) {
      if (s.index.emplace(label, names.size()).second) names.push_back(label);
    }
    s.axis = Axis::categories(std::move(names));
    return s;
  }
  double lo = INFINITY, hi = -INFINITY;
  for (const auto* v : values) {
    const double d = hpo::as_double(*v, dim.name);
    if (std::isfinite(d)) lo = std::min(lo, d), hi = std::max(hi, d);
  }
  if (lo > hi) return s;
  // A grid of positive numbers spanning two decades or more (a learning-rate sweep) is drawn on a
  // log axis too: the grid has no `log` of its own.
  const bool log = dim.log || (dim.kind == "grid" && lo > 0 && hi / lo >= 100);
  s.axis = log && lo > 0 ? Axis::log(lo, hi) : Axis::linear(lo, hi, dim.kind == "int");
  return s;
}

// Finished trials with a finite objective, in trial order.
std::vector<const hpo::TrialRecord*> valued(const ReportData& data) {
  std::vector<const hpo::TrialRecord*> out;
  for (const auto& t : data.trials) {
    if (finite_value(t)) out.push_back(&t);
  }
  return out;
}

}  // namespace

std::string slice_figure(const ReportData& data, const DimensionInfo& dim) {
  Svg svg(kWidth, kHeight);
  const auto trials = valued(data);
  // A conditional parameter's absent trials (its condition was false) are left out, and counted.
  const auto absent = std::count_if(trials.begin(), trials.end(), [&](const hpo::TrialRecord* t) {
    return !t->params.contains(dim.name);
  });
  draw_title(svg, data,
             "objective against " + dim.name +
                 (absent > 0 ? fmt::format(" ({} trial{} without it: absent)", absent,
                                           absent == 1 ? "" : "s")
                             : ""));
  ParamScale scale = param_scale(dim, trials);
  double lo = INFINITY, hi = -INFINITY;
  std::vector<std::pair<const hpo::TrialRecord*, double>> shown;  // trial, x in data units
  for (const auto* t : trials) {
    if (const auto x = scale.coord(*t)) {
      shown.emplace_back(t, *x);
      lo = std::min(lo, *t->value), hi = std::max(hi, *t->value);
    }
  }
  Frame frame;
  Axis y = shown.empty() ? Axis::linear(0, 1) : Axis::linear(lo, hi);
  const bool log = scale.axis.kind() == Axis::Kind::Log;
  draw_axes(svg, frame, scale.axis, y, dim.name + (log ? " (log)" : ""), objective_label(data));
  if (shown.empty()) draw_note(svg, frame, "no trial with a value has this parameter");
  std::vector<const hpo::TrialRecord*> marked;
  for (const auto& [t, x] : shown) {
    marked.push_back(t);
    svg.circle(scale.axis.map(x), y.map(*t->value), 4,
               SvgStyle{.fill = state_color(t->state),
                        .stroke = "#ffffff",
                        .stroke_width = 0.8,
                        .opacity = 0.85,
                        .cls = "mark"});
  }
  draw_legend(svg, frame.right() + 14, frame.top, state_legend(marked));
  return svg.str();
}

std::string slice_by_figure(const ReportData& data, const DimensionInfo& dim,
                            const Groups& groups) {
  Svg svg(kWidth, kHeight);
  draw_title(svg, data, "objective against " + dim.name + " by " + groups.param);
  std::vector<const hpo::TrialRecord*> trials;
  for (const auto* t : valued(data)) {
    if (groups.of(*t)) trials.push_back(t);
  }
  ParamScale scale = param_scale(dim, trials);
  double lo = INFINITY, hi = -INFINITY;
  struct Shown {
    const hpo::TrialRecord* trial;
    double x;
    size_t group;
  };
  std::vector<Shown> shown;
  for (const auto* t : trials) {
    if (const auto x = scale.coord(*t)) {
      shown.push_back({t, *x, *groups.of(*t)});
      lo = std::min(lo, *t->value), hi = std::max(hi, *t->value);
    }
  }
  Frame frame;
  Axis y = shown.empty() ? Axis::linear(0, 1) : Axis::linear(lo, hi);
  const bool log = scale.axis.kind() == Axis::Kind::Log;
  draw_axes(svg, frame, scale.axis, y, dim.name + (log ? " (log)" : ""), objective_label(data));
  if (shown.empty()) draw_note(svg, frame, "no trial with a value has both parameters");
  // Means per group at each value of a discrete dimension (x in data units -> sum, count).
  const bool discrete =
      dim.kind == "grid" || dim.kind == "choice" || scale.axis.kind() == Axis::Kind::Category;
  std::vector<std::map<double, std::pair<double, int>>> sums(groups.labels.size());
  std::vector<int> members(groups.labels.size(), 0);
  for (const auto& s : shown) {
    ++members[s.group];
    auto& [sum, n] = sums[s.group][s.x];
    sum += *s.trial->value;
    ++n;
    svg.circle(scale.axis.map(s.x), y.map(*s.trial->value), 3.5,
               SvgStyle{.fill = groups.color(s.group),
                        .stroke = "#ffffff",
                        .stroke_width = 0.8,
                        .opacity = 0.7,
                        .cls = "mark"});
  }
  std::vector<LegendEntry> legend;
  bool means = false;
  for (size_t g = 0; g < groups.labels.size(); ++g) {
    if (members[g] == 0) continue;
    if (discrete && sums[g].size() >= 2) {
      std::vector<std::pair<double, double>> line;
      for (const auto& [x, sn] : sums[g]) {
        line.emplace_back(scale.axis.map(x), y.map(sn.first / sn.second));
      }
      svg.polyline(
          line,
          SvgStyle{.fill = "none", .stroke = groups.color(g), .stroke_width = 2.2, .cls = "mean"});
      means = true;
    }
    if (legend.size() < 16) {
      legend.push_back(
          {fmt::format("{} ({})", shorten(groups.labels[g], 12), members[g]), groups.color(g)});
    }
  }
  if (means) legend.push_back({"line: mean", "#444444", true});
  draw_legend(svg, frame.right() + 14, frame.top, legend);
  return svg.str();
}

std::string parallel_figure(const ReportData& data) {
  Svg svg(kWidth, kHeight);
  draw_title(svg, data, "parallel coordinates");
  auto trials = valued(data);
  const bool maximize = data.study.direction == hpo::Direction::Maximize;
  // The best trials are drawn last, on top.
  std::stable_sort(trials.begin(), trials.end(),
                   [&](const hpo::TrialRecord* a, const hpo::TrialRecord* b) {
                     return maximize ? *a->value < *b->value : *a->value > *b->value;
                   });
  std::vector<ParamScale> scales;
  for (const auto& dim : data.dims) scales.push_back(param_scale(dim, trials));
  double lo = INFINITY, hi = -INFINITY;
  for (const auto* t : trials) lo = std::min(lo, *t->value), hi = std::max(hi, *t->value);
  Axis objective = trials.empty() ? Axis::linear(0, 1) : Axis::linear(lo, hi);

  const Frame frame{.left = 60, .top = 84, .width = 520, .height = 300};
  const size_t n = scales.size() + 1;
  auto axis_x = [&](size_t i) {
    return n == 1 ? frame.left + frame.width / 2
                  : frame.left + frame.width * static_cast<double>(i) / static_cast<double>(n - 1);
  };
  for (auto& s : scales) s.axis.set_pixels(frame.bottom(), frame.top);
  objective.set_pixels(frame.bottom(), frame.top);
  // A conditional dimension's axis has an "absent" tick below its range.
  const double absent_y = frame.bottom() + 18;

  // Better is brighter: t = 1 for the best value.
  auto shade = [&](double v) {
    const double t = hi > lo ? (v - lo) / (hi - lo) : 1.0;
    return viridis(maximize ? t : 1 - t);
  };
  for (const auto* t : trials) {
    const SvgStyle style{.fill = "none",
                         .stroke = shade(*t->value),
                         .stroke_width = 1.3,
                         .opacity = 0.8,
                         .cls = "line"};
    std::vector<std::pair<double, double>> run;  // a trial missing a parameter breaks its line
    auto flush = [&] {
      if (run.size() >= 2) svg.polyline(run, style);
      run.clear();
    };
    for (size_t i = 0; i < scales.size(); ++i) {
      if (const auto c = scales[i].coord(*t)) {
        run.emplace_back(axis_x(i), scales[i].axis.map(*c));
      } else if (!data.dims[i].condition.empty() && !t->params.contains(data.dims[i].name)) {
        run.emplace_back(axis_x(i), absent_y);  // inactive: at the axis' "absent" tick
      } else {
        flush();
      }
    }
    run.emplace_back(axis_x(n - 1), objective.map(*t->value));
    flush();
  }

  // The axes over the lines, their labels outlined in white.
  auto draw_axis = [&](const Axis& axis, size_t i, const std::string& name) {
    const double px = axis_x(i);
    const SvgStyle stroke{.stroke = "#444444", .stroke_width = 1};
    svg.line(px, frame.top, px, frame.bottom(), stroke);
    for (const auto& t : axis.ticks()) {
      const double py = axis.map(t.value);
      svg.line(px - 3, py, px, py, stroke);
      svg.text(px - 5, py + 3.5, shorten(t.label, 12), Anchor::End, 10, "#222", 0, true);
    }
    const double name_y = frame.top - (i % 2 == 0 ? 10 : 26);  // staggered against overlaps
    const bool log = axis.kind() == Axis::Kind::Log;
    svg.text(px, name_y, shorten(name, 22) + (log ? " (log)" : ""), Anchor::Middle, 11);
  };
  for (size_t i = 0; i < scales.size(); ++i) {
    draw_axis(scales[i].axis, i, scales[i].name);
    if (data.dims[i].condition.empty()) continue;
    const double px = axis_x(i);
    const SvgStyle dashed{.stroke = "#888888", .stroke_width = 1, .dash = "2 2"};
    svg.line(px, frame.bottom(), px, absent_y, dashed);
    svg.line(px - 3, absent_y, px, absent_y, SvgStyle{.stroke = "#444444", .stroke_width = 1});
    svg.text(px - 5, absent_y + 3.5, "absent", Anchor::End, 10, "#666", 0, true);
  }
  const std::string objective_name =
      data.study.objective.empty() ? "objective" : data.study.objective;
  draw_axis(objective, n - 1, objective_name);
  if (trials.empty()) draw_note(svg, frame, "no trial has a value");

  if (!trials.empty()) draw_color_bar(svg, frame, 50, lo, hi, maximize, false);
  return svg.str();
}

}  // namespace krill::report::svg
