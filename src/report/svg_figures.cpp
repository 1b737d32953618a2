#include "report/svg_figures.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <system_error>

#include "core/error.hpp"
#include "report/pbt_lineage.hpp"
#include "report/svg_figure_parts.hpp"

namespace krill::report {

namespace fs = std::filesystem;

namespace svg {

namespace {

using Points = std::vector<std::pair<double, double>>;

// Data ranges grown one value at a time.
struct Range {
  double lo = INFINITY, hi = -INFINITY;
  void add(double v) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  bool empty() const { return lo > hi; }
  Axis linear(bool integer = false) const {
    return empty() ? Axis::linear(0, 1, integer) : Axis::linear(lo, hi, integer);
  }
};

// Dashes for the trials that did not complete; none for completed and running ones.
std::string state_dash(hpo::TrialState s) {
  switch (s) {
    case hpo::TrialState::Stopped:
      return "5 3";
    case hpo::TrialState::Failed:
    case hpo::TrialState::Diverged:
      return "2 2";
    default:
      return "";
  }
}

// The finite (step, value) points of a trial's learning curve or of one of its metrics.
Points series(const hpo::TrialRecord& t, const std::string& metric) {
  Points out;
  for (const auto& r : t.reports) {
    double v = r.value;
    if (!metric.empty()) {
      const auto it = r.metrics.find(metric);
      if (it == r.metrics.end()) continue;
      v = it->second;
    }
    if (std::isfinite(v)) out.emplace_back(static_cast<double>(r.step), v);
  }
  return out;
}

Points to_pixels(const Points& data, const Axis& x, const Axis& y) {
  Points out;
  out.reserve(data.size());
  for (const auto& [dx, dy] : data) out.emplace_back(x.map(dx), y.map(dy));
  return out;
}

// "trial 3 (stopped): 0.85; lr=0.01 momentum=0.9; stopped at step 200: lcm: ...", shown on hover
// where SVG is viewed live; a failed trial's error ends it.
std::string tooltip(const hpo::TrialRecord& t) {
  std::string text = fmt::format("trial {} ({})", t.number, hpo::to_string(t.state));
  if (t.value) text += fmt::format(": {:.6g}", *t.value);
  if (!t.params.empty()) text += "; " + hpo::to_string(t.params);
  if (const auto* d = stop_decision(t))
    text += fmt::format("; stopped at step {}: {}", d->step, d->reason);
  if (!t.error.empty()) text += "; " + t.error;
  return text;
}

// The completed trial with the best value, if any.
const hpo::TrialRecord* best_trial(const ReportData& data) {
  const bool maximize = data.study.direction == hpo::Direction::Maximize;
  const hpo::TrialRecord* best = nullptr;
  for (const auto& t : data.trials) {
    const auto v = finite_value(t);
    if (t.state != hpo::TrialState::Completed || !v) continue;
    if (!best || (maximize ? *v > *best->value : *v < *best->value)) best = &t;
  }
  return best;
}

// One line per trial: the curve of `metric` ("" for the objective's learning curve).
struct Curve {
  const hpo::TrialRecord* trial;
  Points points;
};

std::vector<Curve> curves_of(const ReportData& data, const std::string& metric) {
  std::vector<Curve> out;
  for (const auto& t : data.trials) {
    auto points = series(t, metric);
    if (!points.empty()) out.push_back({&t, std::move(points)});
  }
  return out;
}

void draw_curve(Svg& svg, const Points& pixels, const SvgStyle& style) {
  if (pixels.size() == 1) {
    svg.circle(pixels[0].first, pixels[0].second, 2,
               SvgStyle{.fill = style.stroke, .opacity = style.opacity, .cls = "point"});
  } else {
    svg.polyline(pixels, style);
  }
}

}  // namespace

std::string history_figure(const ReportData& data) {
  Svg svg(kWidth, kHeight);
  draw_title(svg, data, "optimization history");
  std::vector<const hpo::TrialRecord*> shown;
  Range xs, ys;
  for (const auto& t : data.trials) {
    if (const auto v = finite_value(t)) {
      shown.push_back(&t);
      xs.add(static_cast<double>(t.number));
      ys.add(*v);
    }
  }
  Frame frame;
  Axis x = xs.linear(true), y = ys.linear();
  draw_axes(svg, frame, x, y, "trial number", objective_label(data));
  if (shown.empty()) draw_note(svg, frame, "no trial has a value");

  // Best so far over completed trials in trial order, as a step line to the last trial shown.
  const bool maximize = data.study.direction == hpo::Direction::Maximize;
  Points best;
  std::optional<double> so_far;
  for (const auto* t : shown) {
    if (t->state != hpo::TrialState::Completed) continue;
    const double v = *t->value;
    const double next = !so_far ? v : (maximize ? std::max(*so_far, v) : std::min(*so_far, v));
    const double px = x.map(static_cast<double>(t->number));
    if (so_far) best.emplace_back(px, y.map(*so_far));
    best.emplace_back(px, y.map(next));
    so_far = next;
  }
  if (so_far) {
    best.emplace_back(x.map(xs.hi), y.map(*so_far));
    svg.polyline(best,
                 SvgStyle{.fill = "none", .stroke = "#111111", .stroke_width = 1.8, .cls = "best"});
  }
  for (const auto* t : shown) {
    svg.open_group(tooltip(*t));
    svg.circle(x.map(static_cast<double>(t->number)), y.map(*t->value), 3.5,
               SvgStyle{.fill = state_color(t->state),
                        .stroke = "#ffffff",
                        .stroke_width = 0.8,
                        .cls = "mark"});
    svg.close_group();
  }
  auto legend = state_legend(shown);
  if (so_far) legend.push_back({"best so far", "#111111", true});
  draw_legend(svg, frame.right() + 14, frame.top, legend);
  return svg.str();
}

std::string curves_figure(const ReportData& data) {
  Svg svg(kWidth, kHeight);
  draw_title(svg, data, "learning curves");
  const auto curves = curves_of(data, "");
  Range xs, ys;
  std::vector<const hpo::TrialRecord*> shown;
  for (const auto& c : curves) {
    shown.push_back(c.trial);
    for (const auto& [s, v] : c.points) xs.add(s), ys.add(v);
  }
  Frame frame;
  Axis x = xs.linear(true), y = ys.linear();
  const std::string y_label = data.study.objective.empty() ? "value" : data.study.objective;
  draw_axes(svg, frame, x, y, "step", y_label);
  if (curves.empty()) draw_note(svg, frame, "no learning curves recorded");

  // Unfinished business first, completed curves over them, the best trial on top.
  const auto* best = best_trial(data);
  auto rank = [&](const Curve& c) {
    if (c.trial == best) return 3;
    if (c.trial->state == hpo::TrialState::Completed) return 2;
    return c.trial->state == hpo::TrialState::Running ? 1 : 0;
  };
  for (int pass = 0; pass <= 3; ++pass) {
    for (const auto& c : curves) {
      if (rank(c) != pass) continue;
      const auto s = c.trial->state;
      SvgStyle style{.fill = "none",
                     .stroke = state_color(s),
                     .stroke_width = 1.2,
                     .dash = state_dash(s),
                     .opacity = 0.75,
                     .cls = "curve"};
      if (pass == 3) style.stroke = "#111111", style.stroke_width = 2.2, style.opacity = 1;
      svg.open_group(tooltip(*c.trial));
      draw_curve(svg, to_pixels(c.points, x, y), style);
      svg.close_group();
    }
  }
  std::vector<LegendEntry> legend;
  for (const auto& e : state_legend(shown)) {
    const auto s = hpo::parse_trial_state(e.label);
    legend.push_back({e.label, e.color, true, state_dash(s)});
  }
  if (best && std::any_of(curves.begin(), curves.end(), [&](auto& c) { return c.trial == best; })) {
    legend.push_back({fmt::format("best: trial {}", best->number), "#111111", true});
  }
  draw_legend(svg, frame.right() + 14, frame.top, legend);
  return svg.str();
}

std::optional<std::string> lr_figure(const ReportData& data) {
  // The reported rates, with a step at each PBT exploit that changed a member's rate.
  std::vector<Curve> curves;
  for (const auto& t : data.trials) {
    auto points = lr_points(t);
    if (!points.empty()) curves.push_back({&t, std::move(points)});
  }
  if (curves.empty()) return std::nullopt;
  Svg svg(kWidth, kHeight);
  draw_title(svg, data, "learning rate schedules");
  Range xs, ys;
  for (const auto& c : curves) {
    for (const auto& [s, v] : c.points) xs.add(s), ys.add(v);
  }
  // A log axis when the rates span more than a decade or so (tuned rates usually do).
  const bool log = ys.lo > 0 && ys.hi / ys.lo >= 20;
  Frame frame;
  Axis x = xs.linear(true), y = log ? Axis::log(ys.lo, ys.hi) : ys.linear();
  draw_axes(svg, frame, x, y, "step", log ? "learning rate (log)" : "learning rate");
  std::vector<LegendEntry> legend;
  bool exploits = false;
  for (size_t i = 0; i < curves.size(); ++i) {
    const auto* t = curves[i].trial;
    const auto color = palette_color(i);
    const auto dash = state_dash(t->state);
    draw_curve(svg, to_pixels(curves[i].points, x, y),
               SvgStyle{.fill = "none",
                        .stroke = color,
                        .stroke_width = 1.4,
                        .dash = dash,
                        .opacity = 0.85,
                        .cls = "curve"});
    // Each exploit: a diamond where the member's new rate starts.
    for (const auto* d : exploits_of(*t)) {
      const auto v = lr_after(*t, *d);
      if (!v || (log && !(*v > 0))) continue;
      exploits = true;
      const double px = x.map(static_cast<double>(d->step)), py = y.map(*v);
      svg.open_group(exploit_title(*t, *d));
      svg.polygon(
          {{px, py - 4.5}, {px + 4.5, py}, {px, py + 4.5}, {px - 4.5, py}},
          SvgStyle{.fill = color, .stroke = "#111111", .stroke_width = 0.8, .cls = "exploit"});
      svg.close_group();
    }
    if (curves.size() <= 16)
      legend.push_back({fmt::format("trial {}", t->number), color, true, dash});
  }
  if (curves.size() > 16)
    legend.push_back({fmt::format("{} trials", curves.size()), "#888888", true});
  if (exploits) legend.push_back({"exploit (PBT copy)", "#111111", false});
  draw_legend(svg, frame.right() + 14, frame.top, legend);
  return svg.str();
}

namespace {

// Each trial's curve of `metric` ("" for the learning curve) in its group's colour, and a bold
// line per group through the mean of its trials' values at each step (groups of two or more
// curves). `log_if_wide`: a log y axis when the values span more than a decade or so.
std::optional<std::string> grouped_curves(const ReportData& data, const Groups& groups,
                                          const std::string& metric, const std::string& what,
                                          const std::string& y_label, bool log_if_wide) {
  const auto curves = curves_of(data, metric);
  if (curves.empty() && !metric.empty()) return std::nullopt;
  Svg svg(kWidth, kHeight);
  draw_title(svg, data, what + " by " + groups.param);
  Range xs, ys;
  for (const auto& c : curves) {
    if (!groups.of(*c.trial)) continue;
    for (const auto& [s, v] : c.points) xs.add(s), ys.add(v);
  }
  const bool log = log_if_wide && ys.lo > 0 && ys.hi / ys.lo >= 20;
  Frame frame;
  Axis x = xs.linear(true), y = log ? Axis::log(ys.lo, ys.hi) : ys.linear();
  draw_axes(svg, frame, x, y, "step", log ? y_label + " (log)" : y_label);
  if (xs.empty()) draw_note(svg, frame, "no trial with this parameter has a curve");
  std::vector<std::map<double, std::pair<double, int>>> sums(groups.labels.size());  // step: sum, n
  std::vector<int> members(groups.labels.size(), 0);
  for (const auto& c : curves) {
    const auto g = groups.of(*c.trial);
    if (!g) continue;
    ++members[*g];
    for (const auto& [step, v] : c.points) {
      auto& [sum, n] = sums[*g][step];
      sum += v;
      ++n;
    }
  }
  for (const auto& c : curves) {
    const auto g = groups.of(*c.trial);
    if (!g) continue;
    // Thin and faint under the group's mean; the whole line when it is the group's only one.
    const bool alone = members[*g] == 1;
    svg.open_group(tooltip(*c.trial));
    draw_curve(svg, to_pixels(c.points, x, y),
               SvgStyle{.fill = "none",
                        .stroke = groups.color(*g),
                        .stroke_width = alone ? 2.2 : 1,
                        .dash = state_dash(c.trial->state),
                        .opacity = alone ? 1 : 0.45,
                        .cls = "curve"});
    svg.close_group();
  }
  std::vector<LegendEntry> legend;
  for (size_t g = 0; g < groups.labels.size(); ++g) {
    if (members[g] == 0) continue;
    if (members[g] >= 2) {
      Points mean;
      for (const auto& [step, sn] : sums[g]) mean.emplace_back(step, sn.first / sn.second);
      draw_curve(
          svg, to_pixels(mean, x, y),
          SvgStyle{.fill = "none", .stroke = groups.color(g), .stroke_width = 2.6, .cls = "mean"});
    }
    if (legend.size() < 16) {
      legend.push_back({fmt::format("{} ({})", shorten(groups.labels[g], 12), members[g]),
                        groups.color(g), true});
    }
  }
  const auto shown = std::count_if(members.begin(), members.end(), [](int n) { return n > 0; });
  if (shown > 16) legend.push_back({fmt::format("{} values in all", shown), "#888888", true});
  if (std::any_of(members.begin(), members.end(), [](int n) { return n >= 2; })) {
    legend.push_back({"bold: mean", "#444444", true});
  }
  draw_legend(svg, frame.right() + 14, frame.top, legend);
  return svg.str();
}

}  // namespace

std::string curves_by_figure(const ReportData& data, const Groups& groups) {
  const std::string y_label = data.study.objective.empty() ? "value" : data.study.objective;
  return *grouped_curves(data, groups, "", "learning curves", y_label, false);
}

std::optional<std::string> lr_by_figure(const ReportData& data, const Groups& groups) {
  return grouped_curves(data, groups, "lr", "learning rate", "learning rate", true);
}

std::string timeline_figure(const ReportData& data) {
  Svg svg(kWidth, kHeight);
  draw_title(svg, data, "trials per worker");
  std::vector<const hpo::TrialRecord*> shown;
  double t0 = INFINITY, latest = -INFINITY;
  for (const auto& t : data.trials) {
    if (!(t.started > 0) || !std::isfinite(t.started)) continue;
    shown.push_back(&t);
    t0 = std::min(t0, t.started);
    latest = std::max(latest, t.started);
    if (hpo::is_finished(t.state) && std::isfinite(t.finished))
      latest = std::max(latest, t.finished);
  }
  std::set<int> workers;
  for (const auto* t : shown) workers.insert(t->worker);
  // Rows top to bottom in worker order: the category axis runs bottom up, so list them reversed.
  std::vector<std::string> names;
  for (auto it = workers.rbegin(); it != workers.rend(); ++it) {
    names.push_back(*it < 0 ? "worker ?" : fmt::format("worker {}", *it));
  }
  const double span = !shown.empty() && latest > t0 ? latest - t0 : 1.0;
  const double unit = span >= 7200 ? 3600 : span >= 120 ? 60 : 1;
  const char* unit_name = unit == 3600 ? "hours" : unit == 60 ? "minutes" : "seconds";
  Frame frame;
  Axis x = Axis::linear(0, span / unit), y = Axis::categories(names);
  draw_axes(svg, frame, x, y, fmt::format("{} since the first start", unit_name), "");
  if (shown.empty()) draw_note(svg, frame, "no trial has started");
  const double pitch = frame.height / std::max<size_t>(1, names.size());
  for (const auto* t : shown) {
    const auto row = std::distance(workers.begin(), workers.find(t->worker));
    const double cy = y.map(static_cast<double>(workers.size() - 1 - static_cast<size_t>(row)));
    const bool done = hpo::is_finished(t->state) && t->finished >= t->started;
    const double end = done ? t->finished : latest;
    const double x0 = x.map((t->started - t0) / unit), x1 = x.map((end - t0) / unit);
    const double h = std::min(pitch * 0.6, 28.0);
    svg.rect(
        x0, cy - h / 2, std::max(x1 - x0, 1.0), h,
        SvgStyle{
            .fill = state_color(t->state), .stroke = "#ffffff", .stroke_width = 0.6, .cls = "bar"});
  }
  draw_legend(svg, frame.right() + 14, frame.top, state_legend(shown));
  return svg.str();
}

}  // namespace svg

namespace {

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) throw Error("cannot write " + path.string());
}

}  // namespace

std::vector<fs::path> write_svg_figures(const ReportData& data, const fs::path& dir,
                                        const std::string& by) {
  if (!by.empty() && std::none_of(data.dims.begin(), data.dims.end(),
                                  [&](const DimensionInfo& d) { return d.name == by; })) {
    std::string dims;
    for (const auto& d : data.dims) dims += (dims.empty() ? "" : ", ") + d.name;
    throw InvalidArgument("--by: '" + by + "' is not a searched parameter of study '" +
                          data.study.name + "', expected one of its dimensions (" +
                          (dims.empty() ? std::string("it has none") : dims) + ")");
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) {
    throw Error("cannot create the folder " + dir.string() + ": " +
                (ec ? ec.message() : "a file of that name is in the way"));
  }
  std::vector<std::pair<std::string, std::string>> figures;  // file name, SVG text
  const bool any_finished = std::any_of(data.trials.begin(), data.trials.end(),
                                        [](const auto& t) { return hpo::is_finished(t.state); });
  if (!any_finished) {
    figures.emplace_back("summary.svg", svg::summary_figure(data));
  } else {
    figures.emplace_back("history.svg", svg::history_figure(data));
    figures.emplace_back("curves.svg", svg::curves_figure(data));
    if (auto lr = svg::lr_figure(data)) figures.emplace_back("lr.svg", std::move(*lr));
    if (auto tree = svg::lineage_figure(data)) {
      figures.emplace_back("lineage.svg", std::move(*tree));
    }
    figures.emplace_back("timeline.svg", svg::timeline_figure(data));
    std::set<std::string> used;
    for (const auto& dim : data.dims) {
      std::string name = "slice-" + svg::file_safe(dim.name);
      for (int k = 2; used.contains(name); ++k) {
        name = fmt::format("slice-{}-{}", svg::file_safe(dim.name), k);
      }
      used.insert(name);
      figures.emplace_back(name + ".svg", svg::slice_figure(data, dim));
    }
    if (!data.dims.empty()) figures.emplace_back("parallel.svg", svg::parallel_figure(data));
    if (data.space.size() > 0) {
      const Analysis analysis = analyze(data);
      figures.emplace_back("importance.svg", svg::importance_figure(data, analysis));
      for (const auto& c : analysis.contours) {
        std::string name = "contour-" + svg::file_safe(c.x.name) + "-" + svg::file_safe(c.y.name);
        for (int k = 2; used.contains(name); ++k) {
          name = fmt::format("contour-{}-{}-{}", svg::file_safe(c.x.name), svg::file_safe(c.y.name),
                             k);
        }
        used.insert(name);
        figures.emplace_back(name + ".svg", svg::contour_figure(data, c));
      }
      if (analysis.contours.empty()) {
        figures.emplace_back("contour.svg", svg::contour_note_figure(data, analysis.contour_note));
      }
    }
    if (!by.empty()) {
      const svg::Groups groups = svg::groups_of(data, by);
      const std::string tail = "-by-" + svg::file_safe(by);
      figures.emplace_back("curves" + tail + ".svg", svg::curves_by_figure(data, groups));
      if (auto lr = svg::lr_by_figure(data, groups)) {
        figures.emplace_back("lr" + tail + ".svg", std::move(*lr));
      }
      std::set<std::string> used_by;
      for (const auto& dim : data.dims) {
        if (dim.name == by) continue;
        std::string name = "slice-" + svg::file_safe(dim.name);
        for (int k = 2; used_by.contains(name); ++k) {
          name = fmt::format("slice-{}-{}", svg::file_safe(dim.name), k);
        }
        used_by.insert(name);
        figures.emplace_back(name + tail + ".svg", svg::slice_by_figure(data, dim, groups));
      }
    }
  }
  std::vector<fs::path> written;
  for (const auto& [name, text] : figures) {
    written.push_back(dir / name);
    write_file(written.back(), text);
  }
  return written;
}

}  // namespace krill::report
