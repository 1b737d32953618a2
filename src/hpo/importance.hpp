// Hyperparameter importance by PED-ANOVA (S. Watanabe, A. Bansal, F. Hutter, "PED-ANOVA:
// Efficiently Quantifying Hyperparameter Importance in Arbitrary Subspaces", IJCAI 2023), computed
// as Optuna's PedAnovaImportanceEvaluator computes it (defaults included), so that the numbers can
// be checked against it:
//  - the trials are the completed ones with a finite value (stopped trials' values are partial);
//  - the "top" trials are the best `target_quantile` of them (ties at the cut-off kept), the
//    "region" the best `region_quantile` (1: all);
//  - each dimension is discretised: a float into `grid_steps` points over [low, high] (in log
//    space for a log dimension), an integer into one point per value (at most `grid_steps`; a log
//    integer into about log2 of its range), a choice or grid dimension into its values;
//  - a 1-D Parzen estimator over those points, for the top trials and for the region: a discrete
//    truncated Gaussian per point weighted by its count (bandwidth by Scott's rule, at least
//    0.5 / 1.64 of a grid step), plus a wide prior kernel of weight `prior_weight` (a choice: a
//    smoothed one-hot per observed value and a uniform prior);
//  - importance = (top / region)^2 * the Pearson divergence sum_i p_region(i) (p_top(i) /
//    p_region(i) - 1)^2, normalised so that a space's importances sum to 1.
// A dimension whose range holds one value has importance 0; with fewer than two usable trials
// every importance is 0. A conditional dimension is measured on the trials where it is active
// (its own top quantile of them), as Optuna's evaluator measures a parameter it is asked for by
// name (`params=[name]`: the trials that have it); Optuna's default, the intersection search
// space, would leave it out. Cheap (no model is fitted), deterministic, and local to the region
// that was explored.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "hpo/search_space.hpp"
#include "hpo/storage.hpp"
#include "hpo/trial.hpp"

namespace krill::hpo {

struct PedAnovaOptions {
  double target_quantile = 0.1;  // the paper's gamma': importance of reaching the top 10%
  double region_quantile = 1.0;  // the paper's gamma: the region compared against (1: all)
  int grid_steps = 50;           // points a float dimension's range is cut into
  double prior_weight = 1.0;     // the prior kernel's weight in each Parzen estimator
};

struct ParamImportance {
  std::string name;
  double importance = 0;  // in [0, 1]; a space's importances sum to 1 unless all are 0
  size_t trials = 0;      // the trials it was measured on (fewer when it is conditional)
};

struct Importances {
  std::vector<ParamImportance> params;  // every dimension, most important first (ties: space order)
  size_t trials = 0;                    // the completed trials used
  size_t top_trials = 0;                // of which in the top `target_quantile`
};

// Throws InvalidArgument unless 0 < target_quantile < region_quantile <= 1, grid_steps >= 2 and
// prior_weight > 0. Trials lacking a valid value for some active dimension are not used.
Importances ped_anova(const SearchSpace& space, const std::vector<TrialRecord>& trials,
                      Direction direction, const PedAnovaOptions& options = {});

}  // namespace krill::hpo
