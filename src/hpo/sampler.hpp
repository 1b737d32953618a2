// Samplers propose the parameters of trial number n. Grid, random and Sobol samplers are
// stateless functions of (space, n, seed): a study with a fixed seed proposes the same trials
// every time, whatever order workers finish in, and a resumed study proposes the same next ones.
// The samplers that learn (TPE, regularized evolution: hpo/samplers/) read `history` too, but only
// its finished trials numbered below n: their proposal for trial n is a function of (space, n,
// seed, those trials), so a serial study and the same study stopped and resumed propose the same
// trials.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hpo/search_space.hpp"
#include "hpo/storage.hpp"
#include "hpo/trial.hpp"

namespace krill::hpo {

class Sampler {
 public:
  virtual ~Sampler() = default;
  // Parameters of trial `number`; nullopt when the sampler is exhausted (a finished grid).
  virtual std::optional<Params> sample(const SearchSpace& space, int64_t number,
                                       const std::vector<TrialRecord>& history) = 0;
  // "random(seed=1)": stored with the study, so a resume with another sampler is refused.
  virtual std::string describe() const = 0;
};

// Uniform in the unit cube, u = Rng(derive(seed, number)).
class RandomSampler final : public Sampler {
 public:
  explicit RandomSampler(uint64_t seed = 0) : seed_(seed) {}
  std::optional<Params> sample(const SearchSpace& space, int64_t number,
                               const std::vector<TrialRecord>& history) override;
  std::string describe() const override;

 private:
  uint64_t seed_;
};

// Sobol low-discrepancy points (Boost.Random's sobol engine), scrambled by a seeded random shift
// (Cranley-Patterson rotation) so that different seeds give different, equally even designs.
class SobolSampler final : public Sampler {
 public:
  explicit SobolSampler(uint64_t seed = 0) : seed_(seed) {}
  std::optional<Params> sample(const SearchSpace& space, int64_t number,
                               const std::vector<TrialRecord>& history) override;
  std::string describe() const override;

 private:
  uint64_t seed_;
};

// The full product of the Grid dimensions, each point once (point `number` of the grid), other
// dimensions drawn at random from `seed`. Exhausted after grid_size() trials.
class GridSampler final : public Sampler {
 public:
  explicit GridSampler(uint64_t seed = 0) : seed_(seed) {}
  std::optional<Params> sample(const SearchSpace& space, int64_t number,
                               const std::vector<TrialRecord>& history) override;
  std::string describe() const override;

 private:
  uint64_t seed_;
};

// Point `index` of the unscrambled Sobol sequence in [0, 1)^dim, counted from the origin as in
// the literature (0, 0.5, 0.75, 0.25, 0.375... in the first dimension), so that the first 2^m
// points form a net. SobolSampler shifts these points; they are exposed for tests.
std::vector<double> sobol_point(size_t dim, int64_t index);

// TPE's options (Optuna's TPESampler defaults; hpo/samplers/tpe.hpp).
// How TPE weighs the observations of its "below" set (the above set's are always as Optuna's).
enum class TpeWeights {
  Improvement,  // by how much each beats the best of the above set (Watanabe 2023's EI weights)
  Age,          // Optuna's default_weights: equal, older ones less beyond 25
};
// The kernels' widths in the multivariate TPE (the univariate one always uses Neighbours).
enum class TpeBandwidth {
  Neighbours,  // each observation's own, per dimension: the distance to its neighbours
  Scott,       // one for all: 0.2 n^(-1/(d+4)) of the range (Optuna's multivariate TPE)
};

// TPE's options (hpo/samplers/tpe.hpp). The defaults are the setting that Watanabe ("Tree-
// Structured Parzen Estimator: Understanding Its Algorithm Components and Their Roles for Better
// Empirical Performance", 2023) recommends from his ablation over 60 benchmarks, and which
// bench/samplers_vs_optuna.py measured (docs/BENCHMARKS.md) as better than Optuna's defaults;
// TpeOptions::optuna() is Optuna's TPESampler with its defaults.
struct TpeOptions {
  int64_t startup = 10;       // random proposals until this many trials inform the model
  int64_t candidates = 24;    // drawn from l(x), the one with the largest l(x)/g(x) is proposed
  bool multivariate = true;   // one joint kernel per observation instead of one per dimension
  double prior_weight = 1.0;  // the weight of the prior kernel (> 0)
  double gamma = 0.15;        // the below set: the best min(ceil(gamma n), 25) of n, in (0, 1]
  TpeWeights weights = TpeWeights::Improvement;
  TpeBandwidth bandwidth = TpeBandwidth::Neighbours;
  double min_bandwidth = 0.03;      // a floor on the widths, a share of the range, in [0, 1]
  bool consider_endpoints = false;  // the range's ends count as the outer observations' neighbours

  // Optuna's TPESampler defaults: univariate, gamma 0.1, Age weights, no floor but the magic clip.
  static TpeOptions optuna();
};
std::string to_string(TpeWeights w);    // "improvement" | "age"
std::string to_string(TpeBandwidth b);  // "neighbours" | "scott"
// "startup=10, candidates=24, multivariate=true, ..., consider_endpoints=false": every option.
std::string to_string(const TpeOptions& o);

// Regularized evolution's options (hpo/samplers/evolution.hpp).
struct EvolutionOptions {
  int64_t population = 20;  // P: the last P finished trials are the population
  int64_t sample = 5;       // S: the parent is the best of S members drawn at random (S <= P)
};

// Which sampler a study uses and its options; `direction` tells the samplers that learn which
// values are better.
struct SamplerConfig {
  std::string name = "random";  // random | sobol | grid | tpe | evolution
  Direction direction = Direction::Maximize;
  TpeOptions tpe;
  EvolutionOptions evolution;

  // The sampler and the options that apply to it, without the seed: "random",
  // "tpe(startup=10, candidates=24, multivariate=true, prior_weight=1, gamma=0.15,
  // weights=improvement, bandwidth=neighbours, min_bandwidth=0.03, consider_endpoints=false)",
  // "evolution(population=20, sample=5)".
  std::string text() const;
};

// The sampler of `config`; throws InvalidArgument for an unknown name (listing the known ones) or
// an option out of range.
std::unique_ptr<Sampler> make_sampler(const SamplerConfig& config, uint64_t seed);
// By name, with the default options and a maximized objective.
std::unique_ptr<Sampler> make_sampler(const std::string& name, uint64_t seed);

}  // namespace krill::hpo
