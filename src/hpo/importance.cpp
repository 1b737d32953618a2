#include "hpo/importance.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>

#include "core/error.hpp"

namespace krill::hpo {

namespace {

// A usable trial: its loss (lower is better) and its parameters.
struct Point {
  double loss;
  const Params* params;
};

// The trials whose loss is at most the ceil(q * n)-th smallest (Optuna's _QuantileFilter).
std::vector<const Point*> best_quantile(const std::vector<Point>& points, double q) {
  std::vector<const Point*> out;
  if (points.empty()) return out;
  if (q >= 1.0) {
    for (const auto& p : points) out.push_back(&p);
    return out;
  }
  std::vector<double> losses;
  for (const auto& p : points) losses.push_back(p.loss);
  const auto n = static_cast<double>(losses.size());
  const auto cut = static_cast<size_t>(std::max(0.0, std::ceil(q * n) - 1));
  std::nth_element(losses.begin(), losses.begin() + static_cast<std::ptrdiff_t>(cut), losses.end());
  const double cutoff = losses[cut];
  for (const auto& p : points) {
    if (p.loss <= cutoff) out.push_back(&p);
  }
  return out;
}

// How a dimension is discretised: the number of grid points, and a trial's point.
struct Grid {
  size_t size = 1;
  bool categorical = false;
  double low = 0, step = 1;  // numeric: the grid in (log) value space
  bool log = false;
  const std::vector<ParamValue>* values = nullptr;  // categorical: the choices

  std::optional<size_t> index(const ParamValue& v) const {
    if (categorical) {
      const auto it = std::find(values->begin(), values->end(), v);
      if (it == values->end()) return std::nullopt;
      return static_cast<size_t>(it - values->begin());
    }
    if (std::holds_alternative<std::string>(v)) return std::nullopt;
    double x = std::holds_alternative<double>(v) ? std::get<double>(v)
                                                 : static_cast<double>(std::get<int64_t>(v));
    if (log) x = std::log(x);
    if (!std::isfinite(x)) return std::nullopt;
    // The nearest point; a value half-way between two goes to the lower one.
    const double i = std::ceil((x - low) / step - 0.5);
    return static_cast<size_t>(std::clamp(i, 0.0, static_cast<double>(size - 1)));
  }
};

Grid grid_of(const Dimension& dim, int steps) {
  Grid g;
  if (const auto* f = std::get_if<FloatDim>(&dim)) {
    g.log = f->log;
    g.low = f->log ? std::log(f->low) : f->low;
    const double high = f->log ? std::log(f->high) : f->high;
    g.size = f->low == f->high ? 1 : static_cast<size_t>(steps);
    g.step = g.size > 1 ? (high - g.low) / static_cast<double>(g.size - 1) : 1;
  } else if (const auto* i = std::get_if<IntDim>(&dim)) {
    g.log = i->log;
    const double low = static_cast<double>(i->low), high = static_cast<double>(i->high);
    const double values = high - low + 1;
    const double points = i->log ? std::ceil(std::log(values) / std::log(2.0)) + 1 : values;
    g.size = static_cast<size_t>(std::min(points, static_cast<double>(steps)));
    if (i->low == i->high) g.size = 1;
    g.low = i->log ? std::log(low) : low;
    const double top = i->log ? std::log(high) : high;
    g.step = g.size > 1 ? (top - g.low) / static_cast<double>(g.size - 1) : 1;
  } else {
    g.categorical = true;
    const auto* c = std::get_if<CategoricalDim>(&dim);
    g.values = c ? &c->choices : &std::get<GridDim>(dim).values;
    g.size = g.values->size();
  }
  return g;
}

// The mass of N(0, 1) in [a, b], accurate in both tails.
double gauss_mass(double a, double b) {
  const double r = 1 / std::sqrt(2.0);
  if (b <= 0) return 0.5 * (std::erfc(-b * r) - std::erfc(-a * r));
  if (a >= 0) return 0.5 * (std::erfc(a * r) - std::erfc(b * r));
  return 1 - 0.5 * std::erfc(-a * r) - 0.5 * std::erfc(b * r);
}

// The Parzen estimator's probabilities of grid points 0..size-1 from the points' counts
// (Optuna's ScottParzenEstimator on the grid).
std::vector<double> parzen(const Grid& grid, const std::vector<double>& counts,
                           double prior_weight) {
  const size_t n = grid.size;
  std::vector<double> observed, weights;  // the grid points with a count, and their counts
  for (size_t i = 0; i < n; ++i) {
    if (counts[i] > 0) observed.push_back(static_cast<double>(i)), weights.push_back(counts[i]);
  }
  std::vector<double> mixture = weights;  // kernel weights: the counts, then the prior's
  mixture.push_back(observed.empty() ? 1.0 : prior_weight);
  const double mixture_sum = std::accumulate(mixture.begin(), mixture.end(), 0.0);
  std::vector<double> pdf(n, 0.0);
  if (grid.categorical) {
    // Each observed value: a one-hot smoothed by prior_weight / kernels; the prior: uniform.
    const double k = static_cast<double>(observed.size() + 1);
    const double floor = observed.empty() ? 1.0 / static_cast<double>(n) : prior_weight / k;
    const double row = static_cast<double>(n) * floor + 1;
    for (size_t j = 0; j < observed.size(); ++j) {
      for (size_t i = 0; i < n; ++i) {
        const double mass = (floor + (static_cast<double>(i) == observed[j] ? 1 : 0)) / row;
        pdf[i] += mixture[j] / mixture_sum * mass;
      }
    }
    for (size_t i = 0; i < n; ++i) pdf[i] += mixture.back() / mixture_sum / static_cast<double>(n);
    return pdf;
  }
  // Scott's rule on the grid indices, weighted by the counts: 1.059 min(IQR / 1.34, sd) W^-0.2.
  const double total = std::accumulate(weights.begin(), weights.end(), 0.0);
  double sigma = 0.5 / 1.64;  // at least: 90% of a kernel's mass within its grid step
  if (!observed.empty()) {
    double mean = 0;
    for (size_t j = 0; j < observed.size(); ++j) mean += observed[j] * weights[j];
    mean /= total;
    double var = 0;
    for (size_t j = 0; j < observed.size(); ++j) {
      var += (observed[j] - mean) * (observed[j] - mean) * weights[j];
    }
    const double sd = std::sqrt(var / std::max(1.0, total - 1));
    std::vector<double> cum(weights.size());
    std::partial_sum(weights.begin(), weights.end(), cum.begin());
    const double q1 = std::floor(total / 4), q3 = std::floor(total * 3 / 4);
    const auto i1 = static_cast<size_t>(std::lower_bound(cum.begin(), cum.end(), q1) - cum.begin());
    const auto i3 = static_cast<size_t>(std::upper_bound(cum.begin(), cum.end(), q3) - cum.begin());
    const double iqr = observed[std::min(observed.size() - 1, i3)] - observed[i1];
    sigma = std::max(sigma, 1.059 * std::min(iqr / 1.34, sd) * std::pow(total, -0.2));
  }
  std::vector<double> mus = observed, sigmas(observed.size(), sigma);
  mus.push_back(static_cast<double>(n - 1) / 2);  // the prior: centred, as wide as the grid
  sigmas.push_back(static_cast<double>(n));
  const double lo = -0.5, hi = static_cast<double>(n) - 0.5;
  for (size_t j = 0; j < mus.size(); ++j) {
    const double norm = gauss_mass((lo - mus[j]) / sigmas[j], (hi - mus[j]) / sigmas[j]);
    for (size_t i = 0; i < n; ++i) {
      const double x = static_cast<double>(i);
      const double mass =
          gauss_mass((x - 0.5 - mus[j]) / sigmas[j], (x + 0.5 - mus[j]) / sigmas[j]);
      pdf[i] += mixture[j] / mixture_sum * mass / norm;
    }
  }
  return pdf;
}

std::vector<double> counts_of(const Grid& grid, const std::string& name,
                              const std::vector<const Point*>& points) {
  std::vector<double> counts(grid.size, 0.0);
  for (const auto* p : points) ++counts[*grid.index(p->params->at(name))];
  return counts;
}

}  // namespace

Importances ped_anova(const SearchSpace& space, const std::vector<TrialRecord>& trials,
                      Direction direction, const PedAnovaOptions& options) {
  if (!(options.target_quantile > 0 && options.target_quantile < options.region_quantile &&
        options.region_quantile <= 1)) {
    throw InvalidArgument("PED-ANOVA: expected 0 < target quantile < region quantile <= 1, got " +
                          std::to_string(options.target_quantile) + " and " +
                          std::to_string(options.region_quantile));
  }
  if (options.grid_steps < 2 || !(options.prior_weight > 0)) {
    throw InvalidArgument("PED-ANOVA: expected grid steps >= 2 and a prior weight > 0");
  }
  std::vector<Grid> grids;
  for (const auto& [name, dim] : space.dimensions())
    grids.push_back(grid_of(dim, options.grid_steps));

  std::vector<Point> points;
  std::vector<std::vector<bool>> active;  // per point, per dimension
  for (const auto& t : trials) {
    if (t.state != TrialState::Completed || !t.value || !std::isfinite(*t.value)) continue;
    bool valid = true;
    std::vector<bool> on(grids.size(), true);
    for (size_t d = 0; d < grids.size() && valid; ++d) {
      on[d] = !space.condition(d) || space.active(d, t.params);
      if (!on[d]) continue;  // an inactive dimension: absent, and not used for this trial
      const auto it = t.params.find(space.dimensions()[d].first);
      valid = it != t.params.end() && grids[d].index(it->second).has_value();
    }
    if (!valid) continue;
    points.push_back({direction == Direction::Minimize ? *t.value : -*t.value, &t.params});
    active.push_back(std::move(on));
  }

  Importances result;
  result.trials = points.size();
  for (const auto& [name, dim] : space.dimensions()) result.params.push_back({name, 0.0, 0});
  if (points.size() >= 2) {
    result.top_trials = best_quantile(points, options.target_quantile).size();
    double sum = 0;
    for (size_t d = 0; d < grids.size(); ++d) {
      // A conditional dimension is measured on the trials where it is active, as Optuna's
      // evaluator measures a parameter it is asked about (the trials that have it).
      std::vector<Point> with;
      for (size_t i = 0; i < points.size(); ++i) {
        if (active[i][d]) with.push_back(points[i]);
      }
      result.params[d].trials = with.size();
      if (grids[d].size < 2 || with.size() < 2) continue;
      const auto top = best_quantile(with, options.target_quantile);
      const auto region = best_quantile(with, options.region_quantile);
      if (region.size() < 2) continue;
      const double share = static_cast<double>(top.size()) / static_cast<double>(region.size());
      const std::string& name = space.dimensions()[d].first;
      const auto p_top = parzen(grids[d], counts_of(grids[d], name, top), options.prior_weight);
      const auto p_region =
          parzen(grids[d], counts_of(grids[d], name, region), options.prior_weight);
      double divergence = 0;
      for (size_t i = 0; i < grids[d].size; ++i) {
        const double a = p_top[i] + 1e-12, b = p_region[i] + 1e-12;
        divergence += b * (a / b - 1) * (a / b - 1);
      }
      result.params[d].importance = share * share * divergence;
      sum += result.params[d].importance;
    }
    if (sum > 0) {
      for (auto& p : result.params) p.importance /= sum;
    }
  }
  std::stable_sort(result.params.begin(), result.params.end(),
                   [](const ParamImportance& a, const ParamImportance& b) {
                     return a.importance > b.importance;
                   });
  return result;
}

}  // namespace krill::hpo
