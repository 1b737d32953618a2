// Learning-rate schedules: the learning rate as a pure function of the base rate and the
// iteration (0-based: iteration i is the i-th optimizer step). "Dynamic" learning rates of the
// poster are StepDecay{.every = 100, .factor = 0.95}: 5% less every 100 iterations.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace krill::optim {

struct Constant {};

// lr_i = base * factor^floor(i / every)   (torch.optim.lr_scheduler.StepLR stepped per iteration)
struct StepDecay {
  int64_t every = 100;
  double factor = 0.95;
};

// lr_i = base * gamma^i   (torch.optim.lr_scheduler.ExponentialLR stepped per iteration)
struct Exponential {
  double gamma = 0.999;
};

// Linear warm-up from base/warmup to base over `warmup` iterations, then cosine annealing from
// base to base*min_factor at iteration `total` (0 = the length of the run, filled in by the
// trainer), constant afterwards:
//   i < warmup: lr_i = base * (i + 1) / warmup
//   else:       p = min(1, (i - warmup) / (total - warmup));
//               lr_i = base * (min_factor + (1 - min_factor) * (1 + cos(pi p)) / 2)
struct CosineWarmup {
  int64_t warmup = 0;
  int64_t total = 0;
  double min_factor = 0.0;
};

using Schedule = std::variant<Constant, StepDecay, Exponential, CosineWarmup>;

// `total_iterations` replaces CosineWarmup::total when that is 0.
double learning_rate(const Schedule& schedule, double base_lr, int64_t iteration,
                     int64_t total_iterations = 0);

// Parses "constant", "step:EVERY:FACTOR", "exp:GAMMA", "cosine:WARMUP[:TOTAL[:MIN_FACTOR]]".
// Throws InvalidArgument quoting the spec and the expected forms.
Schedule parse_schedule(std::string_view spec);
std::string to_string(const Schedule& schedule);  // the form parse_schedule reads

}  // namespace krill::optim
