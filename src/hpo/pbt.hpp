// Population Based Training (Jaderberg et al., "Population Based Training of Neural Networks",
// 2017), as the poster runs it: a population of members (the study's trials, all training at
// once) reports every `interval` steps; at each such step the members are ranked by their value
// there, and each member of the least-fit quantile copies the state of a random member of the
// most-fit quantile (exploit) and perturbs its hyperparameters (explore): each evolving float or
// integer multiplied by one of `factors` (clipped to its dimension's range), each choice moved to
// a neighbouring value, or, with probability `resample`, drawn afresh from the search space.
//
// The rule is synchronous: a member's decision at step s waits until every member of the
// population has reported step s (or finished), so that all are ranked at the same step, and a
// donor waits at s while its state is copied. This file is the rule alone (hpo::Study keeps the
// members and the waiting; the executors move the states).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hpo/param.hpp"
#include "hpo/search_space.hpp"
#include "hpo/storage.hpp"
#include "hpo/trial.hpp"

namespace krill::hpo {

// Why PBT cannot evolve `name` in a conditional space ("it is conditional (if ...), expected
// ..."; empty when it can): a conditional dimension would be present in some members and not in
// others, and an evolving parent would switch dimensions on and off while members train.
std::string conditional_evolve_problem(const SearchSpace& space, const std::string& name);

struct PbtOptions {
  int64_t population = 8;  // members: the study's trials, all running at once
  int64_t interval = 100;  // steps between two generations (exploit/explore decisions)
  double quantile = 0.25;  // the fraction replaced and the fraction copied from
  std::vector<double> factors = {0.8, 1.2};  // explore: a float or integer times one of these
  double resample = 0.25;  // explore: probability of drawing a parameter afresh instead
  std::vector<std::string> evolve = {"lr"};  // the hyperparameters that evolve (dimensions)
  uint64_t seed = 0;
};

// One member's standing at a generation's step.
struct PbtMember {
  int64_t number = 0;
  double value = 0;      // its objective at the step (NaN: ranked last)
  bool waiting = false;  // it waits at this step for its decision (its state can be copied)
  Params params;         // its hyperparameters now
};

class Pbt {
 public:
  // Throws InvalidArgument naming the option: population < 2, interval < 1, quantile outside
  // (0, 0.5], no factors or a factor <= 0, resample outside [0, 1], an evolving name that is not
  // a dimension of `space`, or a grid dimension.
  Pbt(PbtOptions options, SearchSpace space);

  const PbtOptions& options() const { return options_; }
  // Whether a report is one where the population decides: a multiple of the interval that is not
  // the member's last.
  bool decides_at(const Report& r) const {
    return !r.last && r.step > 0 && r.step % options_.interval == 0;
  }
  // Canonical text of the rule and its options, stored with the study.
  std::string describe() const;

  // The decisions of the waiting members at `step`, one per waiting member, in `members` order.
  // Members are ranked by value (per `direction`); with n ranked, the quantile holds
  // ceil(n * quantile) members, at most n / 2. A waiting member in the bottom quantile copies a
  // random waiting member of the top quantile (Exploit), else Continue with its rank as reason.
  // Deterministic: the random choices derive from the seed and the step.
  std::vector<DecisionRecord> generation(int64_t step, Direction direction,
                                         const std::vector<PbtMember>& members) const;
  // The explore step on its own: `params` perturbed (the evolving names only).
  Params explore(const Params& params, uint64_t stream) const;

 private:
  PbtOptions options_;
  SearchSpace space_;
};

}  // namespace krill::hpo
