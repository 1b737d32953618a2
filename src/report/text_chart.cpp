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
  // One point is no progress to draw (and its axis would be made up): the summary lists it.
  if (done.size() < 2 || width < 2 || height < 2) return "";
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
  // Every value equal: one row, in the middle, labelled with it (an axis from lo - 1 to lo put
  // an accuracy of 0.125 beside the label -0.875).
  const bool flat = !(hi > lo);
  const double span = flat ? 1.0 : hi - lo;
  const int flat_row = (height - 1) / 2;  // from the bottom

  // Columns: one per trial while they fit, else each column covers a run of trials.
  const size_t n = values.size();
  const size_t cols = std::min<size_t>(n, static_cast<size_t>(width));
  auto row_of = [&](double v) {
    if (flat) return flat_row;
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
    const double label = flat ? hi : hi - span * r / (height - 1);
    const bool labelled = flat ? r == height - 1 - flat_row : r == 0 || r == height - 1;
    out += fmt::format("{:>10} |{}\n", labelled ? fmt::format("{:.4g}", label) : "",
                       grid[static_cast<size_t>(r)]);
  }
  out += fmt::format("{:>10} +{}\n", "", std::string(cols, '-'));
  out += fmt::format("{:>10}  1{:>{}}\n", "", n, static_cast<int>(cols) - 1);
  out += fmt::format("{:>10}  trials in order of finishing; * best so far, . each trial\n", "");
  return out;
}

}  // namespace krill::report
