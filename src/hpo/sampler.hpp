// Samplers propose the parameters of trial number n. Grid, random and Sobol samplers are
// stateless functions of (space, n, seed): a study with a fixed seed proposes the same trials
// every time, whatever order workers finish in, and a resumed study proposes the same next ones.
// History-based samplers (evolution, TPE) will read `history`.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hpo/search_space.hpp"
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

// "random", "sobol", "grid"; throws InvalidArgument listing them.
std::unique_ptr<Sampler> make_sampler(const std::string& name, uint64_t seed);

}  // namespace krill::hpo
