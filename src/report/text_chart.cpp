#include "report/text_chart.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>

namespace krill::report {

std::string best_so_far_chart(const std::vector<hpo::TrialRecord>& trials, hpo::Direction direction,
                              int width, int height) {
  std::vector<const hpo::TrialRecord*> done;
  for (const auto& t : trials) {
    if (t.state == hpo::TrialState::Completed && t.value && std::isfinite(*t.value)) {
      done.push_back(&t);
    }
  }
  if (done.empty() || width < 2 || height < 2) return "";
  std::stable_sort(done.begin(), done.end(),
                   [](auto* a, auto* b) { return a->finished < b->finished; });

  const bool maximize = direction == hpo::Direction::Maximize;
  std::vector<double> values, best;
  for (const auto* t : done) {
    values.push_back(*t->value);
    const double v = *t->value;
    best.push_back(best.empty() ? v
                                : (maximize ? std::max(best.back(), v) : std::min(best.back(), v)));
  }
  const auto [lo_it, hi_it] = std::minmax_element(values.begin(), values.end());
  const double lo = *lo_it, hi = *hi_it;
  const double span = hi > lo ? hi - lo : 1.0;

  // Columns: one per trial while they fit, else each column covers a run of trials.
  const size_t n = values.size();
  const size_t cols = std::min<size_t>(n, static_cast<size_t>(width));
  auto row_of = [&](double v) {
    return static_cast<int>(std::lround((v - lo) / span * (height - 1)));  // 0 = bottom
  };
  std::vector<std::string> grid(static_cast<size_t>(height), std::string(cols, ' '));
  for (size_t c = 0; c < cols; ++c) {
    const size_t first = c * n / cols, last = (c + 1) * n / cols;  // [first, last)
    for (size_t i = first; i < last; ++i) {
      grid[static_cast<size_t>(height - 1 - row_of(values[i]))][c] = '.';
    }
    grid[static_cast<size_t>(height - 1 - row_of(best[last - 1]))][c] = '*';
  }
  std::string out;
  for (int r = 0; r < height; ++r) {
    const double label = hi - span * r / (height - 1);
    const bool labelled = r == 0 || r == height - 1;
    out += fmt::format("{:>10} |{}\n", labelled ? fmt::format("{:.4g}", label) : "",
                       grid[static_cast<size_t>(r)]);
  }
  out += fmt::format("{:>10} +{}\n", "", std::string(cols, '-'));
  out += fmt::format("{:>10}  1{:>{}}\n", "", n, static_cast<int>(cols) - 1);
  out += fmt::format("{:>10}  trials in order of finishing; * best so far, . each trial\n", "");
  return out;
}

}  // namespace krill::report
