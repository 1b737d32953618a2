// Regularized (aging) evolution (Real, Aggarwal, Huang and Le, "Regularized Evolution for Image
// Classifier Architecture Search", AAAI 2019), as a sampler over any search space.
//
// Until `population` (P) trials that count (hpo/samplers/history.hpp) are finished, trial n is the
// random sampler's proposal (the same point). Then the population is the last P of them by
// number, so the oldest age out whatever their value; `sample` (S) members are drawn from it at
// random without replacement, the best of them (history.hpp's ranking) is the parent, and the
// child is the parent with one dimension, drawn at random among those with more than one value,
// mutated:
//  - a float or an integer: with probability 1/2 a fresh draw of that dimension (as the random
//    sampler draws it), else a Gaussian step of standard deviation 0.1 in the unit cube
//    (SearchSpace
//    ::to_unit), reflected at the ends; either is drawn again until the value changes (an integer
//    that keeps its value after 16 draws becomes another integer of its range, uniformly);
//  - a choice or a grid value: another of its values, uniformly.
// In a conditional space only the parent's active dimensions can mutate; a dimension that the
// mutation switches on gets a fresh draw (as the random sampler's, from the same Rng), one it
// switches off is left out.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/rng.hpp"
#include "hpo/sampler.hpp"

namespace krill::hpo::samplers {

class EvolutionSampler final : public Sampler {
 public:
  // Throws InvalidArgument unless 1 <= sample <= population.
  EvolutionSampler(uint64_t seed, Direction direction, EvolutionOptions options = {});
  std::optional<Params> sample(const SearchSpace& space, int64_t number,
                               const std::vector<TrialRecord>& history) override;
  // "evolution(seed=1, population=20, sample=5)".
  std::string describe() const override;

 private:
  // Mutates dimension `index` of `child` (a copy of `parent`'s parameters).
  void mutate(const SearchSpace& space, size_t index, const TrialRecord& parent, Params& child,
              Rng& rng) const;

  uint64_t seed_;
  Direction direction_;
  EvolutionOptions options_;
};

}  // namespace krill::hpo::samplers
