// The per-trial cost of the samplers that learn: one proposal of TPE (krill's defaults, and
// Optuna's: univariate) and of regularized evolution after 100 and 1000 finished trials, in memory
// (no storage). Optuna's TPESampler takes about 3.8 ms a trial in memory; the goal is a tenth of
// it.
//   build/bench/krill_sampler_bench --benchmark_min_time=0.5
#include <benchmark/benchmark.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/rng.hpp"
#include "hpo/sampler.hpp"

namespace {

using namespace krill;

// The quickstart's kind of space: a log learning rate, a momentum, a log-int batch, a choice.
hpo::SearchSpace mixed_space() {
  return hpo::SearchSpace{{"lr", hpo::FloatDim{1e-4, 0.5, true}},
                          {"momentum", hpo::FloatDim{0.0, 0.95}},
                          {"batch", hpo::IntDim{16, 512, true}},
                          {"act", hpo::CategoricalDim{{"relu", "tanh", "sigmoid"}}}};
}

hpo::SearchSpace float_space() {  // bench/study_bench.cpp's
  return hpo::SearchSpace{{"lr", hpo::FloatDim{1e-3, 0.5, true}},
                          {"momentum", hpo::FloatDim{0.0, 0.95}},
                          {"weight_decay", hpo::FloatDim{1e-6, 1e-2, true}}};
}

// n finished trials at random points, valued by a smooth function of lr and momentum.
std::vector<hpo::TrialRecord> history(const hpo::SearchSpace& space, int64_t n) {
  hpo::RandomSampler random(99);
  std::vector<hpo::TrialRecord> out;
  for (int64_t i = 0; i < n; ++i) {
    hpo::TrialRecord t;
    t.number = i;
    t.params = *random.sample(space, i, out);
    t.state = hpo::TrialState::Completed;
    const double lr = std::log10(std::get<double>(t.params.at("lr"))) + 2;
    t.value = lr * lr + std::get<double>(t.params.at("momentum"));
    out.push_back(std::move(t));
  }
  return out;
}

void propose(benchmark::State& state, const hpo::SearchSpace& space, hpo::SamplerConfig config) {
  config.direction = hpo::Direction::Minimize;
  const auto sampler = hpo::make_sampler(config, 1);
  const int64_t n = state.range(0);
  const std::vector<hpo::TrialRecord> trials = history(space, n);
  for (auto _ : state) benchmark::DoNotOptimize(sampler->sample(space, n, trials));
  state.SetItemsProcessed(state.iterations());
}

void BM_TpeMixed(benchmark::State& state) {  // krill's defaults
  hpo::SamplerConfig c;
  c.name = "tpe";
  propose(state, mixed_space(), c);
}
void BM_TpeMixedOptunaDefaults(benchmark::State& state) {  // univariate
  hpo::SamplerConfig c;
  c.name = "tpe";
  c.tpe = hpo::TpeOptions::optuna();
  propose(state, mixed_space(), c);
}
void BM_TpeFloats(benchmark::State& state) {
  hpo::SamplerConfig c;
  c.name = "tpe";
  propose(state, float_space(), c);
}
void BM_EvolutionMixed(benchmark::State& state) {
  hpo::SamplerConfig c;
  c.name = "evolution";
  propose(state, mixed_space(), c);
}

}  // namespace

BENCHMARK(BM_TpeMixed)->Arg(100)->Arg(1000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TpeMixedOptunaDefaults)->Arg(100)->Arg(1000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TpeFloats)->Arg(100)->Arg(1000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_EvolutionMixed)->Arg(100)->Arg(1000)->Unit(benchmark::kMicrosecond);
BENCHMARK_MAIN();
