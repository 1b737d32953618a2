#include "hpo/samplers/tpe.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/error.hpp"
#include "core/rng.hpp"
#include "hpo/samplers/history.hpp"

namespace krill::hpo::samplers {

namespace {

constexpr double kLogSqrt2Pi = 0.91893853320467274178;  // log(sqrt(2 pi))
constexpr double kSqrtHalf = 0.70710678118654752440;
constexpr double kInf = std::numeric_limits<double>::infinity();

// log(Phi(b) - Phi(a)) for a < b, the mass of a standard normal over [a, b], computed from erfc on
// the side where it does not cancel. When that underflows (both far in a tail), the density at the
// middle times the width, which is then as good.
double log_normal_mass(double a, double b) {
  double m = 0;
  if (a >= 0) {
    m = 0.5 * (std::erfc(a * kSqrtHalf) - std::erfc(b * kSqrtHalf));
  } else if (b <= 0) {
    m = 0.5 * (std::erfc(-b * kSqrtHalf) - std::erfc(-a * kSqrtHalf));
  } else {
    m = 1 - 0.5 * (std::erfc(b * kSqrtHalf) + std::erfc(-a * kSqrtHalf));
  }
  if (m > 0) return std::log(m);
  const double mid = 0.5 * (a + b);
  return -0.5 * mid * mid - kLogSqrt2Pi + std::log(b - a);
}

// A kernel further than this many sigmas from a point counts for nothing there: its density is
// below exp(-50) of its peak, while the prior kernel (sigma: the whole range) is never below
// exp(-1/8) of its own, and a kernel's peak is at most 100 times the prior's (the magic clip) over
// its weight ratio. Skipping them (no exp, no erfc) is most of the speed with many trials.
constexpr double kFar = 10;

enum class Kind { Float, Int, Choice };

// A dimension the model proposes (one with more than one value), in its internal space.
struct Dim {
  size_t index = 0;  // in the search space
  Kind kind = Kind::Float;
  bool log = false;
  double lo = 0, hi = 1;  // the kernels' range (ints widened by half a step)
  double flow = 0, fhigh = 1;
  int64_t ilow = 0, ihigh = 0;
  const std::vector<ParamValue>* values = nullptr;
};

// The model's dimensions of `space` (nullopt for one with a single value, whose value is fixed).
std::optional<Dim> model_dim(size_t index, const Dimension& dim) {
  Dim d;
  d.index = index;
  if (const auto* f = std::get_if<FloatDim>(&dim)) {
    if (f->low == f->high) return std::nullopt;
    d.kind = Kind::Float;
    d.log = f->log;
    d.flow = f->low;
    d.fhigh = f->high;
    d.lo = f->log ? std::log(f->low) : f->low;
    d.hi = f->log ? std::log(f->high) : f->high;
  } else if (const auto* i = std::get_if<IntDim>(&dim)) {
    if (i->low == i->high) return std::nullopt;
    d.kind = Kind::Int;
    d.log = i->log;
    d.ilow = i->low;
    d.ihigh = i->high;
    const double lo = static_cast<double>(i->low) - 0.5, hi = static_cast<double>(i->high) + 0.5;
    d.lo = i->log ? std::log(lo) : lo;
    d.hi = i->log ? std::log(hi) : hi;
  } else {
    const auto* c = std::get_if<CategoricalDim>(&dim);
    d.values = c ? &c->choices : &std::get<GridDim>(dim).values;
    if (d.values->size() < 2) return std::nullopt;
    d.kind = Kind::Choice;
  }
  return d;
}

// The only value of a dimension with one.
ParamValue single_value(const Dimension& dim) {
  if (const auto* f = std::get_if<FloatDim>(&dim)) return f->low;
  if (const auto* i = std::get_if<IntDim>(&dim)) return i->low;
  if (const auto* c = std::get_if<CategoricalDim>(&dim)) return c->choices.front();
  return std::get<GridDim>(dim).values.front();
}

// A stored value in the internal space (the history is validated: usable_trials).
double internal(const Dim& d, const ParamValue& v) {
  switch (d.kind) {
    case Kind::Float: {
      const double x =
          std::holds_alternative<double>(v) ? std::get<double>(v) : double(std::get<int64_t>(v));
      return d.log ? std::log(x) : x;
    }
    case Kind::Int: {
      const double k =
          std::holds_alternative<int64_t>(v) ? double(std::get<int64_t>(v)) : std::get<double>(v);
      return d.log ? std::log(k) : k;
    }
    case Kind::Choice:
      break;
  }
  const auto it = std::find(d.values->begin(), d.values->end(), v);
  return static_cast<double>(it - d.values->begin());
}

// A drawn internal value as the parameter: floats back from log space and clamped, integers
// rounded to the nearest (Optuna's step alignment), choices by index.
ParamValue external(const Dim& d, double t) {
  switch (d.kind) {
    case Kind::Float:
      return std::clamp(d.log ? std::exp(t) : t, d.flow, d.fhigh);
    case Kind::Int: {
      const double x = std::round(d.log ? std::exp(t) : t);
      if (x <= static_cast<double>(d.ilow)) return d.ilow;
      if (x >= static_cast<double>(d.ihigh)) return d.ihigh;
      return static_cast<int64_t>(x);
    }
    case Kind::Choice:
      break;
  }
  return (*d.values)[static_cast<size_t>(t)];
}

// One dimension's kernels for one set of observations, the prior last. Numeric: a truncated
// normal per kernel; choices: a categorical distribution per kernel.
struct Kernels {
  // numeric
  std::vector<double> mu, sigma, inv_sigma, log_sigma;
  std::vector<double> logc;  // per kernel, added to the exponent: -log sigma - log Z (- log
                             // sqrt(2 pi) for floats)
  // choices: a kernel's log probability of its observed choice, of any other, and the observed
  // choice of each kernel (-1 for the prior, uniform)
  double log_hit = 0, log_miss = 0, log_uniform = 0;
  std::vector<int> observed;
};

Kernels build_kernels(const Dim& d, std::span<const double> obs, const TpeOptions& options,
                      size_t dims) {
  Kernels k;
  const size_t n = obs.size();
  if (d.kind == Kind::Choice) {
    const auto choices = static_cast<double>(d.values->size());
    // per choice, of each kernel
    const double w = options.prior_weight / static_cast<double>(n + 1);
    const double row = choices * w + 1;
    k.log_hit = std::log((w + 1) / row);
    k.log_miss = std::log(w / row);
    k.log_uniform = -std::log(choices);
    k.observed.reserve(n + 1);
    for (double o : obs) k.observed.push_back(static_cast<int>(o));
    k.observed.push_back(-1);
    return k;
  }
  if (options.multivariate && options.bandwidth == TpeBandwidth::Scott) {
    k.sigma.assign(n, tpe_multivariate_bandwidth(static_cast<int64_t>(n), dims, d.lo, d.hi));
  } else {
    k.sigma = tpe_bandwidths(obs, d.lo, d.hi, options.consider_endpoints);
  }
  for (double& s : k.sigma) s = std::max(s, options.min_bandwidth * (d.hi - d.lo));
  k.mu.assign(obs.begin(), obs.end());
  k.mu.push_back(0.5 * (d.lo + d.hi));  // the prior
  k.sigma.push_back(d.hi - d.lo);
  k.logc.resize(n + 1);
  k.inv_sigma.resize(n + 1);
  k.log_sigma.resize(n + 1);
  for (size_t j = 0; j <= n; ++j) {
    k.inv_sigma[j] = 1 / k.sigma[j];
    k.log_sigma[j] = std::log(k.sigma[j]);
    const double a = (d.lo - k.mu[j]) / k.sigma[j], b = (d.hi - k.mu[j]) / k.sigma[j];
    const double log_z = a < -kFar && b > kFar ? 0.0 : log_normal_mass(a, b);
    k.logc[j] = -log_z - (d.kind == Kind::Float ? std::log(k.sigma[j]) + kLogSqrt2Pi : 0.0);
  }
  return k;
}

// A candidate in one dimension, as the kernels read it: its internal value, and for an integer
// the ends of its cell [k - 0.5, k + 0.5] (log: [log(k - 0.5), log(k + 0.5)]).
struct Point {
  double t = 0, lo = 0, hi = 0, log_width = 0;
};

Point point_at(const Dim& d, double t) {
  Point p{t, t, t, 0};
  if (d.kind == Kind::Int) {
    const double k = std::round(d.log ? std::exp(t) : t);
    p.lo = d.log ? std::log(k - 0.5) : k - 0.5;
    p.hi = d.log ? std::log(k + 0.5) : k + 0.5;
    p.log_width = std::log(p.hi - p.lo);
  }
  return p;
}

// Kernel j's log density (floats), mass (integers) or probability (choices) at `p`.
double log_kernel(const Dim& d, const Kernels& k, size_t j, const Point& p) {
  switch (d.kind) {
    case Kind::Float: {
      const double z = (p.t - k.mu[j]) * k.inv_sigma[j];
      if (z * z > kFar * kFar) return -kInf;
      return -0.5 * z * z + k.logc[j];
    }
    case Kind::Int: {
      const double a = (p.lo - k.mu[j]) * k.inv_sigma[j], b = (p.hi - k.mu[j]) * k.inv_sigma[j];
      if (a > kFar || b < -kFar) return -kInf;
      const double w = b - a;
      if (w >= 0.25) return log_normal_mass(a, b) + k.logc[j];
      // A narrow cell: the mass is phi(m) w (1 + (m^2 - 1) w^2 / 24 + O(w^4)) around its middle
      // m, within 1e-5 where it matters (|m| < 5), without erfc or log.
      const double m = 0.5 * (a + b);
      const double x = (m * m - 1) * w * w / 24;
      return -0.5 * m * m - kLogSqrt2Pi + p.log_width - k.log_sigma[j] +
             (x < 0.01 ? x - 0.5 * x * x : std::log1p(x)) + k.logc[j];
    }
    case Kind::Choice:
      break;
  }
  const int o = k.observed[j];
  return o < 0 ? k.log_uniform : o == static_cast<int>(p.t) ? k.log_hit : k.log_miss;
}

// A draw from kernel j, in the internal space (integers: the internal value of the integer).
double draw(const Dim& d, const Kernels& k, size_t j, Rng& rng) {
  if (d.kind == Kind::Choice) {
    const auto n = static_cast<uint64_t>(d.values->size());
    const int o = k.observed[j];
    if (o < 0) return static_cast<double>(rng.below(n));
    // The observed choice with probability exp(log_hit), else one of the others.
    if (rng.uniform() < std::exp(k.log_hit)) return o;
    uint64_t other = rng.below(n - 1);
    if (other >= static_cast<uint64_t>(o)) ++other;
    return static_cast<double>(other);
  }
  double t = k.mu[j];
  for (int tries = 0; tries < 1000; ++tries) {  // a truncated normal by rejection
    const double x = k.mu[j] + k.sigma[j] * rng.normal();
    if (x >= d.lo && x <= d.hi) {
      t = x;
      break;
    }
  }
  if (d.kind == Kind::Int) return internal(d, external(d, t));
  return t;
}

// log(sum_j exp(s_j)), stable. Terms below the largest by more than 40 (a factor 4e-18) are
// left out: most kernels of a large mixture are far from a given point, and skipping their exp()
// is most of the speed.
double log_sum_exp(std::span<const double> s) {
  double top = -kInf;
  for (double x : s) top = std::max(top, x);
  if (top == -kInf) return -kInf;
  const double floor = top - 40;
  double sum = 0;
  for (double x : s) {
    if (x > floor) sum += std::exp(x - top);
  }
  return top + std::log(sum);
}

// Mixture weights, log, prior last: the observations' `w` and the prior's, normalised.
std::vector<double> log_mixture_weights(std::vector<double> w, double prior) {
  w.push_back(prior);
  const double total = std::accumulate(w.begin(), w.end(), 0.0);
  for (double& x : w) x = std::log(x / total);
  return w;
}

// An index drawn with probabilities exp(log_w).
size_t pick(std::span<const double> log_w, Rng& rng) {
  double u = rng.uniform();
  for (size_t j = 0; j + 1 < log_w.size(); ++j) {
    u -= std::exp(log_w[j]);
    if (u < 0) return j;
  }
  return log_w.size() - 1;
}

// The observations of one set: n x dims, row-major, in the internal space.
struct Observations {
  size_t n = 0;
  std::vector<double> values;
  std::vector<double> column(size_t j, size_t dims) const {
    std::vector<double> c(n);
    for (size_t i = 0; i < n; ++i) c[i] = values[i * dims + j];
    return c;
  }
};

Observations observe(std::span<const TrialRecord* const> trials, const SearchSpace& space,
                     const std::vector<Dim>& dims) {
  Observations o;
  o.n = trials.size();
  o.values.reserve(o.n * dims.size());
  for (const TrialRecord* t : trials) {
    for (const Dim& d : dims) {
      o.values.push_back(internal(d, t->params.at(space.dimensions()[d.index].first)));
    }
  }
  return o;
}

// Proposes the dimensions `dims` (one group: condition_groups) into `params`, from the kernels of
// `below` (weighted by `weights_l`) and `above`.
void sample_group(const SearchSpace& space, const std::vector<Dim>& dims,
                  const std::vector<const TrialRecord*>& below,
                  const std::vector<const TrialRecord*>& above, std::vector<double> weights_l,
                  const TpeOptions& options, Rng& rng, Params& params) {
  const size_t nd = dims.size();
  const Observations obs_l = observe(below, space, dims), obs_g = observe(above, space, dims);
  const std::vector<double> lw_l = log_mixture_weights(std::move(weights_l), options.prior_weight);
  const std::vector<double> lw_g =
      log_mixture_weights(tpe_weights(static_cast<int64_t>(obs_g.n)), options.prior_weight);
  std::vector<Kernels> l, g;
  for (size_t j = 0; j < nd; ++j) {
    l.push_back(build_kernels(dims[j], obs_l.column(j, nd), options, nd));
    g.push_back(build_kernels(dims[j], obs_g.column(j, nd), options, nd));
  }
  const auto candidates = static_cast<size_t>(options.candidates);
  std::vector<double> terms_l(lw_l.size()), terms_g(lw_g.size());

  if (!options.multivariate) {
    // Each dimension on its own: candidates from l_j, the best l_j / g_j.
    for (size_t j = 0; j < nd; ++j) {
      const Dim& d = dims[j];
      double best_t = 0, best_score = -kInf;
      std::vector<std::pair<double, double>> seen;  // integers and choices: (t, score)
      for (size_t c = 0; c < candidates; ++c) {
        const double t = draw(d, l[j], pick(lw_l, rng), rng);
        double score = 0;
        const auto it =
            std::find_if(seen.begin(), seen.end(),
                         [t](const std::pair<double, double>& e) { return e.first == t; });
        if (it != seen.end()) {
          score = it->second;
        } else {
          const Point p = point_at(d, t);
          for (size_t k = 0; k < lw_l.size(); ++k) terms_l[k] = lw_l[k] + log_kernel(d, l[j], k, p);
          for (size_t k = 0; k < lw_g.size(); ++k) terms_g[k] = lw_g[k] + log_kernel(d, g[j], k, p);
          score = log_sum_exp(terms_l) - log_sum_exp(terms_g);
          if (d.kind != Kind::Float) seen.emplace_back(t, score);
        }
        if (c == 0 || score > best_score) best_t = t, best_score = score;
      }
      params.emplace(space.dimensions()[d.index].first, external(d, best_t));
    }
    return;
  }

  // Multivariate: whole points from one kernel of l each, the best l / g.
  std::vector<double> point(nd), best(nd);
  std::vector<Point> at(nd);
  double best_score = -kInf;
  for (size_t c = 0; c < candidates; ++c) {
    const size_t k = pick(lw_l, rng);
    for (size_t j = 0; j < nd; ++j) {
      point[j] = draw(dims[j], l[j], k, rng);
      at[j] = point_at(dims[j], point[j]);
    }
    // A joint kernel far from the point in one dimension counts for nothing: the others are
    // not computed.
    const auto joint = [&](const std::vector<Kernels>& kernels, std::span<const double> lw,
                           std::span<double> terms) {
      for (size_t m = 0; m < lw.size(); ++m) {
        double t = lw[m];
        for (size_t j = 0; j < nd && t > -kInf; ++j) t += log_kernel(dims[j], kernels[j], m, at[j]);
        terms[m] = t;
      }
    };
    joint(l, lw_l, terms_l);
    joint(g, lw_g, terms_g);
    const double score = log_sum_exp(terms_l) - log_sum_exp(terms_g);
    if (c == 0 || score > best_score) best = point, best_score = score;
  }
  for (size_t j = 0; j < nd; ++j) {
    params.emplace(space.dimensions()[dims[j].index].first, external(dims[j], best[j]));
  }
}

}  // namespace

std::vector<std::vector<size_t>> condition_groups(const SearchSpace& space) {
  // A dimension's chain: its condition, its parent's, ... up to an unconditional dimension.
  // Dimensions with the same chain are active in the same trials.
  const size_t n = space.size();
  std::vector<std::string> chain(n);
  std::vector<size_t> depth(n, 0);
  for (size_t i = 0; i < n; ++i) {
    for (auto at = std::optional<size_t>(i); at && space.condition(*at);) {
      const Condition& c = *space.condition(*at);
      chain[i] += c.describe() + '\n';
      ++depth[i];
      at = space.index_of(c.parent);
    }
  }
  std::vector<std::vector<size_t>> groups;
  std::vector<size_t> group_of(n);
  for (size_t i = 0; i < n; ++i) {
    size_t g = 0;
    while (g < groups.size() && chain[groups[g].front()] != chain[i]) ++g;
    if (g == groups.size()) groups.emplace_back();
    groups[g].push_back(i);
  }
  // Parents first: a group's chain is one longer than its parent's group's.
  std::stable_sort(groups.begin(), groups.end(),
                   [&](const std::vector<size_t>& a, const std::vector<size_t>& b) {
                     return depth[a.front()] < depth[b.front()];
                   });
  return groups;
}

int64_t tpe_gamma(int64_t n, double gamma) {
  return std::min<int64_t>(static_cast<int64_t>(std::ceil(gamma * static_cast<double>(n))), 25);
}

std::vector<double> tpe_improvement_weights(std::span<const double> values, double threshold) {
  std::vector<double> w;
  w.reserve(values.size());
  for (double v : values) w.push_back(std::max(1e-12, threshold - v));
  return w;
}

std::vector<double> tpe_weights(int64_t n) {
  if (n <= 0) return {};
  if (n < 25) return std::vector<double>(static_cast<size_t>(n), 1.0);
  // numpy.linspace(1 / n, 1, n - 25), then 25 ones.
  const int64_t ramp = n - 25;
  std::vector<double> w;
  w.reserve(static_cast<size_t>(n));
  const double start = 1.0 / static_cast<double>(n);
  for (int64_t i = 0; i < ramp; ++i) {
    w.push_back(ramp == 1 ? start
                          : start + static_cast<double>(i) *
                                        ((1.0 - start) / static_cast<double>(ramp - 1)));
  }
  if (ramp > 1) w.back() = 1.0;  // linspace ends exactly at its stop
  w.resize(static_cast<size_t>(n), 1.0);
  return w;
}

std::vector<double> tpe_bandwidths(std::span<const double> mus, double low, double high,
                                   bool consider_endpoints) {
  const size_t n = mus.size();
  // The observations and the prior's centre, sorted, between the ends of the range.
  // (value, index) pairs sorted: equal values keep their order, as a stable sort would.
  std::vector<std::pair<double, size_t>> sorted_mus(n + 1);
  for (size_t i = 0; i < n; ++i) sorted_mus[i] = {mus[i], i};
  sorted_mus[n] = {0.5 * (low + high), n};
  std::sort(sorted_mus.begin(), sorted_mus.end());
  std::vector<size_t> order(n + 1);
  std::vector<double> ends(n + 3);
  ends[0] = low;
  for (size_t i = 0; i <= n; ++i) {
    order[i] = sorted_mus[i].second;
    ends[i + 1] = sorted_mus[i].first;
  }
  ends[n + 2] = high;
  std::vector<double> sorted(n + 1);
  for (size_t i = 0; i <= n; ++i) {
    sorted[i] = std::max(ends[i + 1] - ends[i], ends[i + 2] - ends[i + 1]);
  }
  if (!consider_endpoints && n + 3 >= 4) {
    sorted[0] = ends[2] - ends[1];
    sorted[n] = ends[n + 1] - ends[n];
  }
  std::vector<double> sigmas(n);
  for (size_t i = 0; i <= n; ++i) {
    if (order[i] < n) sigmas[order[i]] = sorted[i];
  }
  // The magic clip: n + 1 kernels with the prior.
  const double max_sigma = high - low;
  const double min_sigma = (high - low) / std::min(100.0, 2.0 + static_cast<double>(n));
  for (double& s : sigmas) s = std::clamp(s, min_sigma, max_sigma);
  return sigmas;
}

double tpe_multivariate_bandwidth(int64_t n, size_t d, double low, double high) {
  const double sigma = 0.2 *
                       std::pow(static_cast<double>(std::max<int64_t>(n, 1)),
                                -1.0 / (static_cast<double>(d) + 4.0)) *
                       (high - low);
  const double min_sigma = (high - low) / std::min(100.0, 2.0 + static_cast<double>(n));
  return std::clamp(sigma, min_sigma, high - low);
}

TpeSampler::TpeSampler(uint64_t seed, Direction direction, TpeOptions options)
    : seed_(seed), direction_(direction), options_(options) {
  if (options_.startup < 0) {
    throw InvalidArgument("tpe sampler: startup " + std::to_string(options_.startup) +
                          " is negative");
  }
  if (options_.candidates < 1) {
    throw InvalidArgument("tpe sampler: candidates " + std::to_string(options_.candidates) +
                          ", expected at least 1");
  }
  if (!(options_.prior_weight > 0) || !std::isfinite(options_.prior_weight)) {
    throw InvalidArgument("tpe sampler: prior_weight " +
                          to_string(ParamValue{options_.prior_weight}) + ", expected above 0");
  }
  if (!(options_.gamma > 0 && options_.gamma <= 1)) {
    throw InvalidArgument("tpe sampler: gamma " + to_string(ParamValue{options_.gamma}) +
                          ", expected a share in (0, 1]");
  }
  if (!(options_.min_bandwidth >= 0 && options_.min_bandwidth <= 1)) {
    throw InvalidArgument("tpe sampler: min_bandwidth " +
                          to_string(ParamValue{options_.min_bandwidth}) +
                          ", expected a share of the range in [0, 1]");
  }
}

std::string TpeSampler::describe() const {
  return "tpe(seed=" + std::to_string(seed_) + ", " + to_string(options_) + ")";
}

std::vector<double> TpeSampler::below_weights(const std::vector<const TrialRecord*>& below,
                                              const std::vector<const TrialRecord*>& by_rank,
                                              size_t n_below) const {
  std::vector<double> age = tpe_weights(static_cast<int64_t>(below.size()));
  if (options_.weights == TpeWeights::Age || n_below >= by_rank.size()) return age;
  // By improvement over the best of the above set, when it and every below trial completed with
  // a value (a stopped or diverged trial has no final value to measure by): the values in
  // "smaller is better" form.
  const auto usable = [](const TrialRecord* t) {
    return t->state == TrialState::Completed && t->value && std::isfinite(*t->value);
  };
  if (!usable(by_rank[n_below])) return age;
  const double sign = direction_ == Direction::Minimize ? 1.0 : -1.0;
  std::vector<double> values;
  for (const TrialRecord* t : below) {
    if (!usable(t)) return age;
    values.push_back(sign * *t->value);
  }
  std::vector<double> w = tpe_improvement_weights(values, sign * *by_rank[n_below]->value);
  // Scaled so that the prior keeps the share it has with equal weights (a weight of 1 each):
  // Watanabe gives the prior the mean of the others'.
  const double mean = std::accumulate(w.begin(), w.end(), 0.0) / static_cast<double>(w.size());
  for (double& x : w) x /= mean;
  return w;
}

std::optional<Params> TpeSampler::sample(const SearchSpace& space, int64_t number,
                                         const std::vector<TrialRecord>& history) {
  if (number < 0) {
    throw InvalidArgument("tpe sampler: trial number " + std::to_string(number) + " is negative");
  }
  Rng rng(Rng::derive(seed_, static_cast<uint64_t>(number)));
  const std::vector<const TrialRecord*> trials = usable_trials(history, number, space);
  if (static_cast<int64_t>(trials.size()) < std::max<int64_t>(options_.startup, 1)) {
    // The random sampler's point for this number.
    std::vector<double> u(space.size());
    for (double& x : u) x = rng.uniform();
    return space.from_unit(u);
  }

  // Split: the best gamma(n) below, the rest above, each in the order of their numbers.
  const std::vector<const TrialRecord*> by_rank = ranked(trials, direction_);
  const auto n_below = static_cast<size_t>(
      std::min<int64_t>(tpe_gamma(static_cast<int64_t>(trials.size()), options_.gamma),
                        static_cast<int64_t>(trials.size())));
  std::vector<const TrialRecord*> below(by_rank.begin(), by_rank.begin() + n_below);
  std::vector<const TrialRecord*> above(by_rank.begin() + n_below, by_rank.end());
  const auto by_number = [](const TrialRecord* a, const TrialRecord* b) {
    return a->number < b->number;
  };
  std::sort(below.begin(), below.end(), by_number);
  std::sort(above.begin(), above.end(), by_number);

  Params params;
  for (const std::vector<size_t>& group : condition_groups(space)) {
    // Parents are in earlier groups: whether this one is active is known.
    if (!space.active(group.front(), params)) continue;
    std::vector<Dim> dims;
    for (size_t i : group) {
      const auto& [name, dim] = space.dimensions()[i];
      if (auto d = model_dim(i, dim)) {
        dims.push_back(*d);
      } else {
        params.emplace(name, single_value(dim));
      }
    }
    if (dims.empty()) continue;
    // The group's model is fitted to the trials where it is active (Optuna's group=True): the
    // below and above sets are split over all trials, then each keeps those that have the group.
    const auto with_group = [&](const std::vector<const TrialRecord*>& set) {
      if (group.size() == space.size()) return set;
      std::vector<const TrialRecord*> out;
      for (const TrialRecord* t : set) {
        if (space.active(group.front(), t->params)) out.push_back(t);
      }
      return out;
    };
    const std::vector<const TrialRecord*> below_g = with_group(below), above_g = with_group(above);
    sample_group(space, dims, below_g, above_g, below_weights(below_g, by_rank, n_below), options_,
                 rng, params);
  }
  return params;
}

}  // namespace krill::hpo::samplers
