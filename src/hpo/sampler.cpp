#include "hpo/sampler.hpp"

#include <boost/random/sobol.hpp>
#include <cstdint>
#include <limits>

#include "core/error.hpp"
#include "core/rng.hpp"
#include "hpo/samplers/evolution.hpp"
#include "hpo/samplers/tpe.hpp"

namespace krill::hpo {

namespace {

// The stream of the Sobol sampler's random shift: any constant that trial numbers (the streams of
// the random draws) will not reach in practice.
constexpr uint64_t kSobolShiftStream = 0x50B01;

void check_number(const char* sampler, int64_t number) {
  if (number < 0) {
    throw InvalidArgument(std::string(sampler) + " sampler: trial number " +
                          std::to_string(number) + " is negative");
  }
}

std::string with_seed(const char* name, uint64_t seed) {
  return std::string(name) + "(seed=" + std::to_string(seed) + ")";
}

}  // namespace

std::optional<Params> RandomSampler::sample(const SearchSpace& space, int64_t number,
                                            const std::vector<TrialRecord>& /*history*/) {
  check_number("random", number);
  Rng rng(Rng::derive(seed_, static_cast<uint64_t>(number)));
  std::vector<double> u(space.size());
  for (double& x : u) x = rng.uniform();
  return space.from_unit(u);
}

std::string RandomSampler::describe() const {
  return with_seed("random", seed_);
}

std::vector<double> sobol_point(size_t dim, int64_t index) {
  check_number("sobol", index);
  using Engine = boost::random::sobol;  // 64-bit, Joe and Kuo's direction numbers
  static_assert(Engine::min() == 0 && Engine::max() == std::numeric_limits<uint64_t>::max(),
                "the conversion to [0, 1) below assumes outputs over all of uint64");
  constexpr size_t kMaxDim = boost::random::default_sobol_table::max_dimension;
  if (dim > kMaxDim) {
    throw InvalidArgument("sobol sampler: at most " + std::to_string(kMaxDim) +
                          " dimensions, the search space has " + std::to_string(dim));
  }
  std::vector<double> u(dim, 0.0);
  // Boost's engine skips the origin: its vector k is point k + 1 of the sequence. The origin is
  // put back so that points 0 .. 2^m - 1 are the net that makes Sobol points even (Owen, "On
  // dropping the first Sobol' point", 2020); the sampler's shift moves it off the corner anyway.
  if (dim == 0 || index == 0) return u;
  Engine engine(dim);
  engine.seed(static_cast<uint64_t>(index - 1));  // a Gray-code jump, O(64 * dim), not a replay
  // (x - min) / (max - min + 1) = x / 2^64, truncated to the 53 bits of a double so that it
  // stays below 1 (exact for the first 2^53 points, which use no lower bits).
  for (double& x : u) x = static_cast<double>(engine() >> 11) * 0x1p-53;
  return u;
}

std::optional<Params> SobolSampler::sample(const SearchSpace& space, int64_t number,
                                           const std::vector<TrialRecord>& /*history*/) {
  std::vector<double> u = sobol_point(space.size(), number);
  // Cranley-Patterson rotation: one random shift per dimension, modulo 1, the same for every
  // point, so the design keeps its evenness and each seed gives another one.
  Rng shift(Rng::derive(seed_, kSobolShiftStream));
  for (double& x : u) {
    x += shift.uniform();
    if (x >= 1) x -= 1;
  }
  return space.from_unit(u);
}

std::string SobolSampler::describe() const {
  return with_seed("sobol", seed_);
}

std::optional<Params> GridSampler::sample(const SearchSpace& space, int64_t number,
                                          const std::vector<TrialRecord>& /*history*/) {
  check_number("grid", number);
  if (number >= space.grid_size()) return std::nullopt;
  // The other dimensions as the random sampler draws them, one draw per non-grid dimension; the
  // grid's at the middle of their values' intervals, so that from_unit decides once which
  // dimensions are active (those conditional on a grid dimension too).
  Rng rng(Rng::derive(seed_, static_cast<uint64_t>(number)));
  const Params grid = space.grid_point(number);
  std::vector<double> u(space.size(), SearchSpace::kInactiveUnit);
  for (size_t i = 0; i < u.size(); ++i) {
    const auto& [name, dim] = space.dimensions()[i];
    if (!std::holds_alternative<GridDim>(dim)) {
      u[i] = rng.uniform();
    } else if (const auto it = grid.find(name); it != grid.end()) {
      u[i] = space.unit_of(i, it->second);
    }
  }
  Params params = space.from_unit(u);
  // The grid's values exactly as listed (from_unit gives the same ones).
  for (const auto& [name, value] : grid) params[name] = value;
  return params;
}

std::string GridSampler::describe() const {
  return with_seed("grid", seed_);
}

TpeOptions TpeOptions::optuna() {
  TpeOptions o;
  o.multivariate = false;
  o.gamma = 0.1;
  o.weights = TpeWeights::Age;
  o.bandwidth = TpeBandwidth::Scott;
  o.min_bandwidth = 0;
  return o;
}

std::string to_string(TpeWeights w) {
  return w == TpeWeights::Improvement ? "improvement" : "age";
}

std::string to_string(TpeBandwidth b) {
  return b == TpeBandwidth::Neighbours ? "neighbours" : "scott";
}

std::string to_string(const TpeOptions& o) {
  return "startup=" + std::to_string(o.startup) + ", candidates=" + std::to_string(o.candidates) +
         ", multivariate=" + (o.multivariate ? "true" : "false") +
         ", prior_weight=" + to_string(ParamValue{o.prior_weight}) +
         ", gamma=" + to_string(ParamValue{o.gamma}) + ", weights=" + to_string(o.weights) +
         ", bandwidth=" + to_string(o.bandwidth) +
         ", min_bandwidth=" + to_string(ParamValue{o.min_bandwidth}) +
         ", consider_endpoints=" + (o.consider_endpoints ? "true" : "false");
}

std::string SamplerConfig::text() const {
  if (name == "tpe") return "tpe(" + to_string(tpe) + ")";
  if (name == "evolution") {
    return "evolution(population=" + std::to_string(evolution.population) +
           ", sample=" + std::to_string(evolution.sample) + ")";
  }
  return name;
}

std::unique_ptr<Sampler> make_sampler(const SamplerConfig& config, uint64_t seed) {
  const std::string& name = config.name;
  if (name == "random") return std::make_unique<RandomSampler>(seed);
  if (name == "sobol") return std::make_unique<SobolSampler>(seed);
  if (name == "grid") return std::make_unique<GridSampler>(seed);
  if (name == "tpe") {
    return std::make_unique<samplers::TpeSampler>(seed, config.direction, config.tpe);
  }
  if (name == "evolution") {
    return std::make_unique<samplers::EvolutionSampler>(seed, config.direction, config.evolution);
  }
  throw InvalidArgument("unknown sampler '" + name +
                        "', expected random, sobol, grid, tpe or evolution");
}

std::unique_ptr<Sampler> make_sampler(const std::string& name, uint64_t seed) {
  SamplerConfig config;
  config.name = name;
  return make_sampler(config, seed);
}

}  // namespace krill::hpo
