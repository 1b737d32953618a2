// Population training against solo training on the CPU (issue 13): the 784-512-256-10 MLP at
// batch 32, P members trained by one train::Population against the same P members trained one
// after the other by train::Trainer, on synthetic 28x28 images.
//  - BM_PopulationSteps/P/T: one Population::fit of kSteps steps of P members, T threads.
//  - BM_SoloSteps/P/T: P Trainer::fit runs of kSteps steps each, T threads.
// Both include what a step costs in training (gathering the batch, forward, loss, backward,
// update); neither evaluates. Building the models (initialisation) is outside the timing. The
// counter model_steps/s is member-steps per second: P * kSteps per run.
//  - BM_CnnPopulationSteps/P/T, BM_CnnSoloSteps/P/T: the same for a small CNN with batch norm
//    (kCnn), whose convolutions and batch norms a population runs member by member.
#include <benchmark/benchmark.h>

#include <memory>
#include <vector>

#include "backend/backend.hpp"
#include "core/rng.hpp"
#include "nn/losses.hpp"
#include "nn/model_spec.hpp"
#include "optim/sgd.hpp"
#include "train/population.hpp"
#include "train/trainer.hpp"

namespace {

using namespace krill;

constexpr int64_t kSteps = 20;
constexpr const char* kMlp = "mlp:512,256";
constexpr const char* kCnn =
    "conv:16:5,batchnorm,relu,maxpool:2,conv:32:5,relu,maxpool:2,flatten,dense:128,relu,dense:10";
const ImageShape kImage{1, 28, 28};

const data::Dataset& images() {
  static const data::Dataset set = [] {
    auto s = std::make_shared<data::ImageSet>();
    s->count = 2048;
    s->rows = 28;
    s->cols = 28;
    s->classes = 10;
    Rng rng(1);
    for (int64_t i = 0; i < s->count * 784; ++i)
      s->pixels.push_back(static_cast<uint8_t>(rng.below(256)));
    for (int64_t i = 0; i < s->count; ++i) s->labels.push_back(static_cast<int32_t>(rng.below(10)));
    return data::Dataset(s);
  }();
  return set;
}

train::MemberConfig member(uint64_t seed, const char* spec) {
  train::MemberConfig c;
  c.model = nn::parse_model_spec(spec);
  c.sgd = {.lr = 0.01 * static_cast<double>(1 + seed % 4), .momentum = 0.9};
  c.train = {.iterations = kSteps, .batch = 32, .seed = seed};
  c.init_seed = seed;
  return c;
}

void count(benchmark::State& state, int64_t members) {
  state.counters["model_steps/s"] = benchmark::Counter(
      static_cast<double>(members * kSteps), benchmark::Counter::kIsIterationInvariantRate);
}

void population_steps(benchmark::State& state, const char* spec) {
  const int64_t members = state.range(0);
  backend::backend(Device::Cpu).set_threads(static_cast<int>(state.range(1)));
  std::vector<train::MemberConfig> configs;
  for (int64_t m = 0; m < members; ++m) {
    configs.push_back(member(static_cast<uint64_t>(m), spec));
  }
  for (auto _ : state) {
    state.PauseTiming();
    train::Population pop(configs, kImage, 10);
    state.ResumeTiming();
    benchmark::DoNotOptimize(pop.fit(images()));
  }
  count(state, members);
}

void solo_steps(benchmark::State& state, const char* spec) {
  const int64_t members = state.range(0);
  backend::backend(Device::Cpu).set_threads(static_cast<int>(state.range(1)));
  for (auto _ : state) {
    for (int64_t m = 0; m < members; ++m) {
      state.PauseTiming();
      const train::MemberConfig c = member(static_cast<uint64_t>(m), spec);
      auto model = nn::build_model(c.model, kImage, 10, c.init_seed);
      optim::Sgd sgd(model->parameters(), c.sgd);
      nn::SoftmaxCrossEntropy loss;
      train::Trainer trainer(c.train);
      state.ResumeTiming();
      benchmark::DoNotOptimize(trainer.fit(*model, sgd, loss, images()));
    }
  }
  count(state, members);
}

void members_and_threads(benchmark::internal::Benchmark* b) {
  for (int threads : {1, 2}) {
    for (int members : {1, 4, 16}) b->Args({members, threads});
  }
  b->ArgNames({"P", "threads"})->Unit(benchmark::kMillisecond)->UseRealTime();
}

void BM_PopulationSteps(benchmark::State& state) {
  population_steps(state, kMlp);
}
void BM_SoloSteps(benchmark::State& state) {
  solo_steps(state, kMlp);
}
void BM_CnnPopulationSteps(benchmark::State& state) {
  population_steps(state, kCnn);
}
void BM_CnnSoloSteps(benchmark::State& state) {
  solo_steps(state, kCnn);
}

void cnn_members(benchmark::internal::Benchmark* b) {
  for (int members : {1, 4}) b->Args({members, 1});
  b->ArgNames({"P", "threads"})->Unit(benchmark::kMillisecond)->UseRealTime();
}

BENCHMARK(BM_PopulationSteps)->Apply(members_and_threads);
BENCHMARK(BM_SoloSteps)->Apply(members_and_threads);
BENCHMARK(BM_CnnPopulationSteps)->Apply(cnn_members);
BENCHMARK(BM_CnnSoloSteps)->Apply(cnn_members);

}  // namespace

BENCHMARK_MAIN();
