#include "report/analysis.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <optional>

namespace krill::report {

namespace {

// A numeric dimension's place on a contour axis: its range (the space's bounds; a grid's smallest
// and largest value; both widened by 5%) and scale.
struct NumericAxis {
  std::string name;
  double lo = 0, hi = 1;
  bool log = false;

  double unit(double v) const {
    return log ? (std::log(v) - std::log(lo)) / (std::log(hi) - std::log(lo))
               : (v - lo) / (hi - lo);
  }
  double at(double u) const {
    return log ? std::exp(std::log(lo) + u * (std::log(hi) - std::log(lo))) : lo + u * (hi - lo);
  }
  std::optional<double> value(const hpo::Params& params) const {
    const auto it = params.find(name);
    if (it == params.end() || std::holds_alternative<std::string>(it->second)) return std::nullopt;
    const double v = hpo::as_double(it->second, name);
    if (!std::isfinite(v) || (log && !(v > 0))) return std::nullopt;
    return v;
  }
};

// Floats and integers with a range, and grids of two or more numbers.
std::optional<NumericAxis> numeric_axis(const std::string& name, const hpo::Dimension& dim) {
  NumericAxis a{name};
  if (const auto* f = std::get_if<hpo::FloatDim>(&dim)) {
    a.lo = f->low, a.hi = f->high, a.log = f->log;
  } else if (const auto* i = std::get_if<hpo::IntDim>(&dim)) {
    a.lo = static_cast<double>(i->low), a.hi = static_cast<double>(i->high), a.log = i->log;
  } else if (const auto* g = std::get_if<hpo::GridDim>(&dim)) {
    a.lo = INFINITY, a.hi = -INFINITY;
    for (const auto& v : g->values) {
      if (std::holds_alternative<std::string>(v)) return std::nullopt;
      const double d = hpo::as_double(v, name);
      if (!std::isfinite(d)) return std::nullopt;
      a.lo = std::min(a.lo, d), a.hi = std::max(a.hi, d);
    }
    // As the slices draw a grid: on a log axis when positive and spanning two decades or more.
    a.log = a.lo > 0 && a.hi / a.lo >= 100;
  } else {
    return std::nullopt;
  }
  if (!(a.hi > a.lo)) return std::nullopt;
  // 5% more on each side (of the log range for a log axis), so that the trials at the bounds
  // (a grid's every value) are not drawn on the frame.
  if (a.log) {
    const double pad = 0.05 * std::log(a.hi / a.lo);
    a.lo *= std::exp(-pad), a.hi *= std::exp(pad);
  } else {
    const double pad = 0.05 * (a.hi - a.lo);
    a.lo -= pad, a.hi += pad;
  }
  return a;
}

Contour::Axis contour_axis(const NumericAxis& a) {
  Contour::Axis out{a.name, a.log, a.lo, a.hi, {}};
  for (size_t k = 0; k < kContourCells; ++k) {
    out.cells.push_back(a.at((static_cast<double>(k) + 0.5) / kContourCells));
  }
  return out;
}

// The Gaussian-kernel average of the trials' values over the grid (analysis.hpp).
std::optional<Contour> contour(const ReportData& data, const NumericAxis& ax,
                               const NumericAxis& ay) {
  Contour c{contour_axis(ax), contour_axis(ay), {}, 0, {}};
  std::vector<std::pair<double, double>> unit;  // the points in the unit square
  for (const auto& t : data.trials) {
    if (t.state != hpo::TrialState::Completed || !t.value || !std::isfinite(*t.value)) continue;
    const auto x = ax.value(t.params), y = ay.value(t.params);
    if (!x || !y) continue;
    c.points.push_back({t.number, *x, *y, *t.value});
    unit.emplace_back(ax.unit(*x), ay.unit(*y));
  }
  if (c.points.size() < 3) return std::nullopt;
  const double h = std::clamp(1 / std::sqrt(static_cast<double>(c.points.size())), 0.05, 0.25);
  c.bandwidth = h;
  // The kernel is a product of one Gaussian per axis: a trial costs 2 x kContourCells
  // exponentials, not one per cell. No weight underflows: every cell is within sqrt(2) of every
  // trial and h >= 0.05, so a weight is at least e^-400.
  const size_t n = kContourCells;
  std::vector<double> sums(n * n, 0.0), weights(n * n, 0.0), wx(n), wy(n);
  for (size_t i = 0; i < unit.size(); ++i) {
    for (size_t k = 0; k < n; ++k) {
      const double u = (static_cast<double>(k) + 0.5) / static_cast<double>(n);
      const double dx = unit[i].first - u, dy = unit[i].second - u;
      wx[k] = std::exp(-dx * dx / (2 * h * h));
      wy[k] = std::exp(-dy * dy / (2 * h * h));
    }
    for (size_t row = 0; row < n; ++row) {
      for (size_t col = 0; col < n; ++col) {
        const double w = wy[row] * wx[col];
        sums[row * n + col] += w * c.points[i].value;
        weights[row * n + col] += w;
      }
    }
  }
  for (size_t row = 0; row < n; ++row) {
    std::vector<double> z;
    for (size_t col = 0; col < n; ++col) z.push_back(sums[row * n + col] / weights[row * n + col]);
    c.z.push_back(std::move(z));
  }
  return c;
}

size_t count_completed(const ReportData& data) {
  return static_cast<size_t>(std::count_if(data.trials.begin(), data.trials.end(), [](auto& t) {
    return t.state == hpo::TrialState::Completed && t.value && std::isfinite(*t.value);
  }));
}

}  // namespace

Analysis analyze(const ReportData& data) {
  Analysis a;
  a.importance = hpo::ped_anova(data.space, data.trials, data.study.direction);
  const size_t completed = count_completed(data);
  const std::string have =
      fmt::format("this study has {} completed trial{}", completed, completed == 1 ? "" : "s");
  if (data.space.size() == 0) {
    a.importance_note = "The search space has no dimensions: nothing to rank.";
  } else if (a.importance.trials < 2) {
    a.importance_note = "Importance needs at least 2 completed trials; " + have + ".";
  }

  // The most important numeric dimensions, most important first.
  std::vector<NumericAxis> axes;
  size_t numeric = 0;
  for (const auto& p : a.importance.params) {
    for (const auto& [name, dim] : data.space.dimensions()) {
      if (name != p.name) continue;
      if (auto axis = numeric_axis(name, dim)) {
        ++numeric;
        if (axes.size() < kContourParams) axes.push_back(std::move(*axis));
      }
    }
  }
  if (numeric < 2) {
    a.contour_note = fmt::format(
        "Contours need two numeric parameters (floats, integers or grids of numbers, each with "
        "more than one value); this space has {}.",
        numeric);
    return a;
  }
  for (size_t i = 0; i < axes.size(); ++i) {
    for (size_t j = i + 1; j < axes.size(); ++j) {
      if (auto c = contour(data, axes[i], axes[j])) a.contours.push_back(std::move(*c));
    }
  }
  if (a.contours.empty()) {
    // With conditional parameters, a pair may have fewer trials than the study.
    a.contour_note = completed >= 3 && data.space.conditional()
                         ? "Contours need at least 3 completed trials that have both parameters "
                           "of a pair (a conditional parameter is absent from some); " +
                               have + "."
                         : "Contours need at least 3 completed trials; " + have + ".";
  }
  return a;
}

}  // namespace krill::report
