// krill's samplers on standard test functions, through the HPO layer (bench/samplers_vs_optuna.py
// runs it beside Optuna on the same functions, bench/test_functions.py).
//
//   build/bench/krill_test_functions --function branin --sampler tpe --trials 100 --seeds 1-20
//   (--tpe-preset optuna: TPE with Optuna's defaults instead of krill's)
//
// Each (function, sampler, seed) is one study: in-memory storage, trials run one at a time on the
// calling thread (no executor), as in examples/custom_objective.cpp; the objective is minimised.
// Prints one JSON line per study: the value of every trial in order, the seconds the sampler spent
// in Sampler::sample (a wrapper times each call: "sampler_s" wall, "sampler_cpu_s" the thread's CPU
// time) and of the whole optimize() call ("optimize_s", "optimize_cpu_s": the process's CPU time,
// the study's heartbeat thread included). CPU times are the ones to compare on a shared machine.
//
// The functions, as defined by the Virtual Library of Simulation Experiments (S. Surjanovic and
// D. Bingham, https://www.sfu.ca/~ssurjano/optimization.html), on their usual domains:
//  - branin: 2-D, x1 in [-5, 10], x2 in [0, 15]; minimum 0.397887 (at three points);
//  - hartmann6: 6-D, [0, 1]^6; minimum -3.32237;
//  - rosenbrock10: 10-D, [-5, 10]^10; minimum 0 at (1, ..., 1).
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <numbers>
#include <stdexcept>
#include <string>
#include <vector>

#include "hpo/sampler.hpp"
#include "hpo/study.hpp"
#include "store/memory_storage.hpp"

namespace {

using namespace krill;

double branin(const std::vector<double>& x) {
  const double pi = std::numbers::pi;
  const double a = 1, b = 5.1 / (4 * pi * pi), c = 5 / pi, r = 6, s = 10, t = 1 / (8 * pi);
  const double u = x[1] - b * x[0] * x[0] + c * x[0] - r;
  return a * u * u + s * (1 - t) * std::cos(x[0]) + s;
}

double hartmann6(const std::vector<double>& x) {
  static const double alpha[4] = {1.0, 1.2, 3.0, 3.2};
  static const double A[4][6] = {{10, 3, 17, 3.5, 1.7, 8},
                                 {0.05, 10, 17, 0.1, 8, 14},
                                 {3, 3.5, 1.7, 10, 17, 8},
                                 {17, 8, 0.05, 10, 0.1, 14}};
  static const double P[4][6] = {{1312, 1696, 5569, 124, 8283, 5886},
                                 {2329, 4135, 8307, 3736, 1004, 9991},
                                 {2348, 1451, 3522, 2883, 3047, 6650},
                                 {4047, 8828, 8732, 5743, 1091, 381}};
  double f = 0;
  for (int i = 0; i < 4; ++i) {
    double inner = 0;
    for (int j = 0; j < 6; ++j) {
      const double d = x[j] - 1e-4 * P[i][j];
      inner += A[i][j] * d * d;
    }
    f -= alpha[i] * std::exp(-inner);
  }
  return f;
}

double rosenbrock(const std::vector<double>& x) {
  double f = 0;
  for (size_t i = 0; i + 1 < x.size(); ++i) {
    const double a = x[i + 1] - x[i] * x[i], b = x[i] - 1;
    f += 100 * a * a + b * b;
  }
  return f;
}

struct Function {
  double (*f)(const std::vector<double>&);
  std::vector<std::pair<double, double>> bounds;
};

Function function(const std::string& name) {
  if (name == "branin") return {branin, {{-5, 10}, {0, 15}}};
  if (name == "hartmann6") return {hartmann6, std::vector<std::pair<double, double>>(6, {0, 1})};
  if (name == "rosenbrock10") {
    return {rosenbrock, std::vector<std::pair<double, double>>(10, {-5, 10})};
  }
  throw std::invalid_argument("unknown function " + name +
                              " (expected branin, hartmann6 or rosenbrock10)");
}

double cpu_seconds(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Times every proposal of the sampler it wraps.
class TimedSampler final : public hpo::Sampler {
 public:
  explicit TimedSampler(std::unique_ptr<hpo::Sampler> inner) : inner_(std::move(inner)) {}
  std::optional<hpo::Params> sample(const hpo::SearchSpace& space, int64_t number,
                                    const std::vector<hpo::TrialRecord>& history) override {
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
    auto p = inner_->sample(space, number, history);
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    cpu += cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - c0;
    return p;
  }
  std::string describe() const override { return inner_->describe(); }
  double seconds = 0, cpu = 0;

 private:
  std::unique_ptr<hpo::Sampler> inner_;
};

std::string param_name(size_t i) {
  return "x" + std::to_string(i);
}

void run(const std::string& fname, const std::string& sampler, const hpo::TpeOptions& tpe,
         int64_t trials, uint64_t seed) {
  const Function fn = function(fname);
  hpo::SearchSpace space;
  for (size_t i = 0; i < fn.bounds.size(); ++i) {
    space.add(param_name(i), hpo::FloatDim{fn.bounds[i].first, fn.bounds[i].second});
  }
  hpo::SamplerConfig config;
  config.name = sampler;  // default options: Optuna's TPESampler defaults, evolution P=20 S=5
  config.direction = hpo::Direction::Minimize;
  config.tpe = tpe;
  auto timed = std::make_unique<TimedSampler>(hpo::make_sampler(config, seed));
  TimedSampler* timer = timed.get();

  store::MemoryStorage storage;
  hpo::StudyRecord record;
  record.name = fname;
  record.direction = hpo::Direction::Minimize;
  record.objective = "f(x)";
  record.n_trials = trials;
  hpo::Study study(record, space, std::move(timed), storage);
  const auto t0 = std::chrono::steady_clock::now();
  const double c0 = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
  study.optimize([&](hpo::Trial& trial) {
    std::vector<double> x(fn.bounds.size());
    for (size_t i = 0; i < x.size(); ++i) x[i] = trial.float_param(param_name(i));
    return fn.f(x);
  });
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - c0;

  auto done = study.trials();
  std::sort(done.begin(), done.end(), [](const hpo::TrialRecord& a, const hpo::TrialRecord& b) {
    return a.number < b.number;
  });
  std::string values;
  for (const auto& t : done) {
    if (!values.empty()) values += ",";
    values += t.value ? fmt::format("{:.17g}", *t.value) : "null";
  }
  fmt::print(
      "{{\"side\":\"krill\",\"function\":\"{}\",\"sampler\":\"{}\",\"seed\":{},\"trials\":{},"
      "\"sampler_s\":{:.6f},\"sampler_cpu_s\":{:.6f},\"optimize_s\":{:.6f},\"optimize_cpu_s\":{:."
      "6f},"
      "\"values\":[{}]}}\n",
      fname, sampler, seed, done.size(), timer->seconds, timer->cpu, wall, cpu, values);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  std::string fname = "branin", sampler = "tpe";
  int64_t trials = 100;
  hpo::TpeOptions tpe;  // krill's defaults unless told
  uint64_t first = 1, last = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i], value = argv[i + 1];
    if (key == "--function") {
      fname = value;
    } else if (key == "--sampler") {
      sampler = value;
    } else if (key == "--trials") {
      trials = std::stoll(value);
    } else if (key == "--tpe-preset") {  // krill (the defaults) | optuna
      tpe = value == "optuna" ? hpo::TpeOptions::optuna() : hpo::TpeOptions{};
    } else if (key == "--seeds") {  // "A-B" or "A"
      const auto dash = value.find('-');
      first = std::stoull(value.substr(0, dash));
      last = dash == std::string::npos ? first : std::stoull(value.substr(dash + 1));
    } else {
      fmt::print(stderr, "unknown option {}\n", key);
      return 2;
    }
  }
  for (uint64_t seed = first; seed <= last; ++seed) run(fname, sampler, tpe, trials, seed);
  return 0;
}
