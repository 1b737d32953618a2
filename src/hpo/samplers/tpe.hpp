// TPE, the Tree-structured Parzen Estimator (Bergstra, Bardenet, Bengio and Kegl, "Algorithms for
// Hyper-Parameter Optimization", NeurIPS 2011), after Optuna's TPESampler, with the defaults that
// Watanabe's ablation study recommends ("Tree-Structured Parzen Estimator: Understanding Its
// Algorithm Components and Their Roles for Better Empirical Performance", 2023); the options
// (hpo::TpeOptions, and TpeOptions::optuna() for Optuna's defaults) select either.
//
// Until `startup` trials inform the model (hpo/samplers/history.hpp says which do), trial n is
// the random sampler's proposal (the same point). Then the usable trials numbered below n are
// ranked, the best min(ceil(gamma n), 25) make the "below" set and the rest the "above" set
// (gamma 0.15; Optuna 0.1), and a Parzen estimator is fitted to each: l(x) to below, g(x) to
// above. Each is a mixture of one kernel per observation plus a prior kernel. Weights:
//  - below, `improvement` (the default): each observation by how much it beats the best of the
//    above set (Watanabe's "expected improvement" weights), scaled to a mean of 1; with `age`,
//    or when one of them or the boundary has no final value (stopped, diverged): as the above
//    set's, next;
//  - above (and `age`): 1, except that in a set of more than 25 the older ones weigh less
//    (Optuna's default_weights: a ramp from 1/n to 1 over all but the newest 25);
//  - the prior: `prior_weight` (1).
// `candidates` points are drawn from l and the one with the largest l(x)/g(x) is proposed.
//
// Kernels, per kind of dimension (in the "internal" space: log(x) for log dimensions):
//  - float: a normal truncated to [low, high], centred on the observation; the prior is centred
//    on the middle with the width of the range as its sigma;
//  - int: the same over [low - 0.5, high + 0.5] (log: [log(low - 0.5), log(high + 0.5)]), drawn
//    then rounded to the nearest integer; an integer's probability is the kernel's mass over
//    [k - 0.5, k + 0.5] (log: [log(k - 0.5), log(k + 0.5)]);
//  - choice and grid: a categorical kernel: its observed choice gets 1 + w, every choice
//    w = prior_weight / (observations + 1), normalised; the prior is uniform.
// Bandwidths: `neighbours` (the default, and always when univariate): each observation's sigma is
// the larger distance to its neighbours among the sorted observations, the prior's centre and the
// ends of the range, except that the lowest and highest take the distance to their inner
// neighbour (Optuna's consider_endpoints=false); `scott` (multivariate only, Optuna's): every
// sigma is 0.2 n^(-1 / (d + 4)) (high - low). Then both are clipped to
// [(high - low) / min(100, n + 2), high - low] (the "magic clip") and raised to at least
// min_bandwidth (high - low) (0.03; Optuna: 0).
// Multivariate (the default), a candidate is a whole point drawn from one joint kernel
// (observation) of l, and l and g are products of the dimensions' kernels; univariate (Optuna's
// default), each dimension is proposed on its own (its own candidates, its own argmax).
//
// Conditional spaces (Optuna's group=True): the dimensions are grouped by their chain of
// conditions (condition_groups), and each group is modelled on its own, multivariate or not, from
// the below and above trials where it is active (the split is made over all trials first, so a
// group whose trials all rank above has an l(x) of its prior alone). Groups are proposed parents
// first, and a group whose condition the proposal so far does not meet is skipped: an inactive
// dimension is never proposed. An unconditional space is one group: the rule above, unchanged.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "hpo/sampler.hpp"

namespace krill::hpo::samplers {

class TpeSampler final : public Sampler {
 public:
  // Throws InvalidArgument for startup < 0, candidates < 1 or prior_weight <= 0 (or not finite).
  TpeSampler(uint64_t seed, Direction direction, TpeOptions options = {});
  std::optional<Params> sample(const SearchSpace& space, int64_t number,
                               const std::vector<TrialRecord>& history) override;
  // "tpe(seed=1, startup=10, candidates=24, multivariate=false, prior_weight=1)".
  std::string describe() const override;

 private:
  // The below set's weights (before the prior's): by improvement or by age (TpeOptions::weights).
  std::vector<double> below_weights(const std::vector<const TrialRecord*>& below,
                                    const std::vector<const TrialRecord*>& by_rank,
                                    size_t n_below) const;

  uint64_t seed_;
  Direction direction_;
  TpeOptions options_;
};

// The groups of dimensions TPE models jointly: dimensions with the same conditions (up to an
// unconditional one) are active in the same trials, so each group is one multivariate model
// (Optuna's group=True decomposes the space the same way, from the trials' parameter sets).
// In space order within a group; the unconditional group first, then groups whose parents'
// groups come before them. An unconditional space is one group.
std::vector<std::vector<size_t>> condition_groups(const SearchSpace& space);

// The pieces, exposed for tests.
// The size of the "below" set for n trials: min(ceil(gamma n), 25) (Optuna's default_gamma with
// gamma 0.1).
int64_t tpe_gamma(int64_t n, double gamma);
// Watanabe's "expected improvement" weights of the below set: each observation's improvement on
// `threshold` (the best value of the above set), values as "smaller is better", at least 1e-12.
std::vector<double> tpe_improvement_weights(std::span<const double> values, double threshold);
// The weights of n observations sorted by number (Optuna's default_weights).
std::vector<double> tpe_weights(int64_t n);
// The univariate bandwidths of observations `mus` (internal space) in a range [low, high],
// magic clip included.
std::vector<double> tpe_bandwidths(std::span<const double> mus, double low, double high,
                                   bool consider_endpoints = false);
// The multivariate bandwidth of n observations in d dimensions, magic clip included.
double tpe_multivariate_bandwidth(int64_t n, size_t d, double low, double high);

}  // namespace krill::hpo::samplers
