#include "optim/schedule.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numbers>
#include <optional>
#include <vector>

#include "core/error.hpp"
#include "optim/check.hpp"

namespace krill::optim {

namespace {

constexpr const char* kForms =
    "expected one of: constant | step:EVERY:FACTOR (EVERY > 0, 0 < FACTOR <= 1) | exp:GAMMA "
    "(0 < GAMMA <= 1) | cosine:WARMUP[:TOTAL[:MIN_FACTOR]] (WARMUP >= 0; TOTAL 0 = the run's "
    "length, or > WARMUP; 0 <= MIN_FACTOR <= 1)";

using detail::format_number;

// What is wrong with a schedule's values, or "" when they are valid.
std::string problem_of(const Constant&) {
  return {};
}

std::string problem_of(const StepDecay& s) {
  if (s.every <= 0) return "EVERY must be > 0, got " + std::to_string(s.every);
  if (!(s.factor > 0.0 && s.factor <= 1.0)) {
    return "FACTOR must be in (0, 1], got " + format_number(s.factor);
  }
  return {};
}

std::string problem_of(const Exponential& s) {
  if (!(s.gamma > 0.0 && s.gamma <= 1.0)) {
    return "GAMMA must be in (0, 1], got " + format_number(s.gamma);
  }
  return {};
}

std::string problem_of(const CosineWarmup& s) {
  if (s.warmup < 0) return "WARMUP must be >= 0, got " + std::to_string(s.warmup);
  if (s.total < 0 || (s.total > 0 && s.total <= s.warmup)) {
    return "TOTAL must be 0 (the run's length) or greater than WARMUP (" +
           std::to_string(s.warmup) + "), got " + std::to_string(s.total);
  }
  if (!(s.min_factor >= 0.0 && s.min_factor <= 1.0)) {
    return "MIN_FACTOR must be in [0, 1], got " + format_number(s.min_factor);
  }
  return {};
}

std::string problem(const Schedule& schedule) {
  return std::visit([](const auto& s) { return problem_of(s); }, schedule);
}

// The form parse_schedule reads. Strings are appended piece by piece: `"literal" +
// std::string&&` trips GCC 12's -Wrestrict.
std::string text_of(const Constant&) {
  return "constant";
}

std::string text_of(const StepDecay& s) {
  std::string out = "step:";
  out += std::to_string(s.every);
  out += ':';
  out += format_number(s.factor);
  return out;
}

std::string text_of(const Exponential& s) {
  std::string out = "exp:";
  out += format_number(s.gamma);
  return out;
}

std::string text_of(const CosineWarmup& s) {  // trailing default fields left out
  std::string out = "cosine:";
  out += std::to_string(s.warmup);
  if (s.total != 0 || s.min_factor != 0.0) {
    out += ':';
    out += std::to_string(s.total);
  }
  if (s.min_factor != 0.0) {
    out += ':';
    out += format_number(s.min_factor);
  }
  return out;
}

// The learning rate of iteration i >= 0 of a valid schedule (formulas in schedule.hpp).
double rate_of(const Constant&, double base, int64_t, int64_t) {
  return base;
}

double rate_of(const StepDecay& s, double base, int64_t i, int64_t) {
  return base * std::pow(s.factor, static_cast<double>(i / s.every));
}

double rate_of(const Exponential& s, double base, int64_t i, int64_t) {
  return base * std::pow(s.gamma, static_cast<double>(i));
}

double rate_of(const CosineWarmup& s, double base, int64_t i, int64_t total_iterations) {
  if (i < s.warmup) return base * static_cast<double>(i + 1) / static_cast<double>(s.warmup);
  const int64_t total = s.total > 0 ? s.total : total_iterations;
  if (total <= 0) {
    throw InvalidArgument("learning-rate schedule '" + text_of(s) +
                          "': the total number of iterations is unknown (TOTAL is 0 and the run's "
                          "length was not given)");
  }
  // A run longer than its warm-up but not than `total` anneals; past `total` the rate stays at
  // base * min_factor (also when a run-length total is not past the warm-up).
  const double p = total <= s.warmup ? 1.0
                                     : std::min(1.0, static_cast<double>(i - s.warmup) /
                                                         static_cast<double>(total - s.warmup));
  return base *
         (s.min_factor + (1.0 - s.min_factor) * (1.0 + std::cos(std::numbers::pi * p)) / 2.0);
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  while (true) {
    const size_t at = s.find(sep);
    parts.push_back(s.substr(0, at));
    if (at == std::string_view::npos) return parts;
    s.remove_prefix(at + 1);
  }
}

// The whole of `s` as a number, or nothing (empty, not a number, trailing characters).
template <class T>
std::optional<T> parse_number(std::string_view s) {
  T value{};
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, value);
  if (s.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

[[noreturn]] void bad_spec(std::string_view spec, const std::string& why) {
  throw InvalidArgument("learning-rate schedule '" + std::string(spec) + "': " + why + "; " +
                        kForms);
}

class SpecParser {
 public:
  explicit SpecParser(std::string_view spec) : spec_(spec), parts_(split(spec, ':')) {}

  std::string_view kind() const { return parts_[0]; }

  // Rejects a spec whose number of fields after the kind is outside [min, max].
  void expect_fields(size_t min, size_t max, const char* form) const {
    const size_t n = parts_.size() - 1;
    if (n < min || n > max) bad_spec(spec_, "'" + std::string(kind()) + "' is written " + form);
  }
  bool has(size_t i) const { return i < parts_.size(); }

  int64_t integer(size_t i, const char* name) const {
    auto v = parse_number<int64_t>(parts_[i]);
    if (!v) {
      bad_spec(spec_, std::string(name) + " '" + std::string(parts_[i]) + "' is not an integer");
    }
    return *v;
  }
  double real(size_t i, const char* name) const {
    auto v = parse_number<double>(parts_[i]);
    if (!v) {
      bad_spec(spec_, std::string(name) + " '" + std::string(parts_[i]) + "' is not a number");
    }
    return *v;
  }

 private:
  std::string_view spec_;
  std::vector<std::string_view> parts_;
};

}  // namespace

double learning_rate(const Schedule& schedule, double base_lr, int64_t iteration,
                     int64_t total_iterations) {
  if (iteration < 0) {
    throw InvalidArgument("learning_rate: iteration must be >= 0, got " +
                          std::to_string(iteration));
  }
  if (const std::string why = problem(schedule); !why.empty()) {
    throw InvalidArgument("learning-rate schedule '" + to_string(schedule) + "': " + why);
  }
  return std::visit([&](const auto& s) { return rate_of(s, base_lr, iteration, total_iterations); },
                    schedule);
}

Schedule parse_schedule(std::string_view spec) {
  const SpecParser p(spec);
  Schedule schedule;
  if (p.kind() == "constant") {
    p.expect_fields(0, 0, "constant");
    schedule = Constant{};
  } else if (p.kind() == "step") {
    p.expect_fields(2, 2, "step:EVERY:FACTOR");
    schedule = StepDecay{.every = p.integer(1, "EVERY"), .factor = p.real(2, "FACTOR")};
  } else if (p.kind() == "exp") {
    p.expect_fields(1, 1, "exp:GAMMA");
    schedule = Exponential{.gamma = p.real(1, "GAMMA")};
  } else if (p.kind() == "cosine") {
    p.expect_fields(1, 3, "cosine:WARMUP[:TOTAL[:MIN_FACTOR]]");
    CosineWarmup c{.warmup = p.integer(1, "WARMUP")};
    if (p.has(2)) c.total = p.integer(2, "TOTAL");
    if (p.has(3)) c.min_factor = p.real(3, "MIN_FACTOR");
    schedule = c;
  } else {
    bad_spec(spec, "unknown schedule '" + std::string(p.kind()) + "'");
  }
  if (const std::string why = problem(schedule); !why.empty()) bad_spec(spec, why);
  return schedule;
}

std::string to_string(const Schedule& schedule) {
  return std::visit([](const auto& s) { return text_of(s); }, schedule);
}

}  // namespace krill::optim
