#include "hpo/samplers/evolution.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"
#include "core/rng.hpp"
#include "hpo/samplers/history.hpp"

namespace krill::hpo::samplers {

namespace {

constexpr double kStep = 0.1;  // the Gaussian step's standard deviation, in the unit cube
constexpr int kTries = 16;

// Whether a dimension has more than one value (one that can mutate).
bool can_mutate(const Dimension& dim) {
  if (const auto* f = std::get_if<FloatDim>(&dim)) return f->low < f->high;
  if (const auto* i = std::get_if<IntDim>(&dim)) return i->low < i->high;
  if (const auto* c = std::get_if<CategoricalDim>(&dim)) return c->choices.size() > 1;
  return std::get<GridDim>(dim).values.size() > 1;
}

// x folded into [0, 1] by reflection at both ends.
double reflect(double x) {
  x = std::fmod(std::fabs(x), 2.0);
  return x > 1 ? 2 - x : x;
}

// Another of `values` than `current`, uniformly.
ParamValue other_value(const std::vector<ParamValue>& values, const ParamValue& current, Rng& rng) {
  const auto at =
      static_cast<uint64_t>(std::find(values.begin(), values.end(), current) - values.begin());
  uint64_t other = rng.below(values.size() - 1);
  if (other >= at) ++other;
  return values[other];
}

}  // namespace

EvolutionSampler::EvolutionSampler(uint64_t seed, Direction direction, EvolutionOptions options)
    : seed_(seed), direction_(direction), options_(options) {
  if (options_.population < 1) {
    throw InvalidArgument("evolution sampler: population " + std::to_string(options_.population) +
                          ", expected at least 1");
  }
  if (options_.sample < 1 || options_.sample > options_.population) {
    throw InvalidArgument("evolution sampler: sample " + std::to_string(options_.sample) +
                          ", expected 1 to the population (" + std::to_string(options_.population) +
                          ")");
  }
}

std::string EvolutionSampler::describe() const {
  return "evolution(seed=" + std::to_string(seed_) +
         ", population=" + std::to_string(options_.population) +
         ", sample=" + std::to_string(options_.sample) + ")";
}

std::optional<Params> EvolutionSampler::sample(const SearchSpace& space, int64_t number,
                                               const std::vector<TrialRecord>& history) {
  if (number < 0) {
    throw InvalidArgument("evolution sampler: trial number " + std::to_string(number) +
                          " is negative");
  }
  Rng rng(Rng::derive(seed_, static_cast<uint64_t>(number)));
  const std::vector<const TrialRecord*> trials = usable_trials(history, number, space);
  const auto population = static_cast<size_t>(options_.population);
  if (trials.size() < population) {
    // The random sampler's point for this number.
    std::vector<double> u(space.size());
    for (double& x : u) x = rng.uniform();
    return space.from_unit(u);
  }

  // The last P by number; S of them without replacement (a partial Fisher-Yates shuffle).
  std::vector<const TrialRecord*> members(trials.end() - static_cast<ptrdiff_t>(population),
                                          trials.end());
  const auto sample = static_cast<size_t>(options_.sample);
  for (size_t i = 0; i < sample; ++i) {
    const size_t j = i + static_cast<size_t>(rng.below(members.size() - i));
    std::swap(members[i], members[j]);
  }
  const TrialRecord* parent = members[0];
  for (size_t i = 1; i < sample; ++i) {
    if (ranks_before(*members[i], *parent, direction_)) parent = members[i];
  }

  Params child;
  std::vector<size_t> mutable_dims;
  for (size_t i = 0; i < space.size(); ++i) {
    const auto& [name, dim] = space.dimensions()[i];
    const auto it = parent->params.find(name);
    if (it == parent->params.end()) continue;  // inactive in the parent (usable_trials checked)
    child.emplace(name, it->second);
    if (can_mutate(dim)) mutable_dims.push_back(i);
  }
  if (mutable_dims.empty()) return child;
  mutate(space, mutable_dims[rng.below(mutable_dims.size())], *parent, child, rng);
  // A mutated parent may switch dimensions on (a fresh draw, as the random sampler's) or off.
  // Until nothing changes: a dimension may be declared before its parent.
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = 0; i < space.size(); ++i) {
      const std::string& name = space.dimensions()[i].first;
      const bool on = space.active(i, child), has = child.contains(name);
      if (on && !has) child.emplace(name, space.value_from_unit(i, rng.uniform()));
      if (!on && has) child.erase(name);
      changed = changed || on != has;
    }
  }
  return child;
}

void EvolutionSampler::mutate(const SearchSpace& space, size_t index, const TrialRecord& parent,
                              Params& child, Rng& rng) const {
  const auto& [name, dim] = space.dimensions()[index];
  ParamValue& value = child.at(name);
  if (const auto* c = std::get_if<CategoricalDim>(&dim)) {
    value = other_value(c->choices, value, rng);
  } else if (const auto* g = std::get_if<GridDim>(&dim)) {
    value = other_value(g->values, value, rng);
  } else {
    const double from = space.unit_of(index, parent.params.at(name));
    const ParamValue before = value;
    for (int tries = 0; tries < kTries && value == before; ++tries) {
      const double u = rng.uniform() < 0.5 ? rng.uniform() : reflect(from + kStep * rng.normal());
      value = space.value_from_unit(index, u);
    }
    if (value == before) {
      if (const auto* n = std::get_if<IntDim>(&dim)) {
        // Another integer of the range, uniformly.
        const uint64_t count = static_cast<uint64_t>(n->high) - static_cast<uint64_t>(n->low) + 1;
        const int64_t k = std::holds_alternative<int64_t>(before)
                              ? std::get<int64_t>(before)
                              : static_cast<int64_t>(std::get<double>(before));
        const auto at = static_cast<uint64_t>(k) - static_cast<uint64_t>(n->low);
        uint64_t other = count == 0 ? rng.next_u64() : rng.below(count - 1);
        if (count != 0 && other >= at) ++other;
        value = static_cast<int64_t>(static_cast<uint64_t>(n->low) + other);
      }
    }
  }
}

}  // namespace krill::hpo::samplers
