// The median stopping rule of Google Vizier (Golovin et al., "Google Vizier: A Service for
// Black-Box Optimization", KDD 2017, section 3.2.2): a pending trial stops at step s when its best
// objective value so far is strictly worse than the median of the running averages, up to s, of
// the completed trials' curves.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "hpo/stopper.hpp"
#include "hpo/stoppers/number_text.hpp"

namespace krill::hpo {

namespace {

using detail::brief;

// The mean of a curve's values at steps <= s (NaN values left out); nullopt when it has none.
std::optional<double> running_average(const std::vector<Report>& reports, int64_t s) {
  double sum = 0;
  int count = 0;
  for (const Report& r : reports) {
    if (r.step > s || std::isnan(r.value)) continue;
    sum += r.value;
    ++count;
  }
  if (count == 0) return std::nullopt;
  return sum / count;
}

double median_of(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

class MedianStopping final : public Stopper {
 public:
  explicit MedianStopping(MedianOptions options) : options_(options) {
    if (options_.min_trials < 0) {
      throw InvalidArgument("median stopping: min_trials must be >= 0, got " +
                            std::to_string(options_.min_trials));
    }
    if (options_.grace < 0) {
      throw InvalidArgument("median stopping: grace must be >= 0 (a step), got " +
                            std::to_string(options_.grace));
    }
  }

  StopDecision decide(const StudyView& study, const TrialRecord& trial,
                      const Report& report) override {
    const int64_t s = report.step;
    if (s < options_.grace) {
      return {false,
              "median: step " + std::to_string(s) + " < grace " + std::to_string(options_.grace) +
                  ": continue",
              std::nullopt};
    }
    std::vector<double> averages;
    int completed = 0;
    for (const TrialRecord& t : study.finished) {
      if (t.state != TrialState::Completed) continue;
      ++completed;
      if (auto avg = running_average(t.reports, s)) averages.push_back(*avg);
    }
    if (completed < options_.min_trials) {
      return {false,
              "median: " + std::to_string(completed) + " completed trials, " +
                  std::to_string(options_.min_trials) + " needed: continue",
              std::nullopt};
    }
    if (averages.empty()) {
      return {false,
              "median: no completed trial reported by step " + std::to_string(s) + ": continue",
              std::nullopt};
    }
    const double median = median_of(averages);
    const bool maximize = study.direction == Direction::Maximize;

    // The trial's best value at steps <= s; `report` counts even if `trial` lacks it.
    std::optional<double> best;
    auto consider = [&](const Report& r) {
      if (r.step > s || std::isnan(r.value)) return;
      if (!best || (maximize ? r.value > *best : r.value < *best)) best = r.value;
    };
    for (const Report& r : trial.reports) consider(r);
    consider(report);

    const std::string tail = "median " + brief(median) + " of " + std::to_string(averages.size()) +
                             " running averages at step " + std::to_string(s);
    if (!best) return {true, "median: no value so far (nan) vs " + tail + ": stop", std::nullopt};
    const bool worse = maximize ? *best < median : *best > median;
    const char* cmp = worse ? (maximize ? " < " : " > ") : (maximize ? " >= " : " <= ");
    return {worse, "median: best " + brief(*best) + cmp + tail + (worse ? ": stop" : ": continue"),
            std::nullopt};
  }

  std::string describe() const override {
    return "median(min_trials=" + std::to_string(options_.min_trials) +
           ", grace=" + std::to_string(options_.grace) + ")";
  }

 private:
  MedianOptions options_;
};

}  // namespace

std::unique_ptr<Stopper> make_median(MedianOptions options) {
  return std::make_unique<MedianStopping>(options);
}

}  // namespace krill::hpo
