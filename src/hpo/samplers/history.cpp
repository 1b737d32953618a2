#include "hpo/samplers/history.hpp"

#include <algorithm>
#include <cmath>
#include <exception>

namespace krill::hpo::samplers {

namespace {

bool counts(TrialState s) {
  return s == TrialState::Completed || s == TrialState::Stopped || s == TrialState::Diverged;
}

// 0: completed with a finite value, 1: stopped, 2: the rest (diverged, or completed without one).
int rank_class(const TrialRecord& t) {
  const bool finite = t.value && std::isfinite(*t.value);
  if (t.state == TrialState::Completed && finite) return 0;
  if (t.state == TrialState::Stopped) return 1;
  return 2;
}

// The last step a stopped trial reported at (-1: none) and its value there (its stored value when
// it reported nothing; NaN: unknown).
std::pair<int64_t, double> last_point(const TrialRecord& t) {
  if (!t.reports.empty() && std::isfinite(t.reports.back().value)) {
    return {t.reports.back().step, t.reports.back().value};
  }
  return {-1, t.value && std::isfinite(*t.value) ? *t.value : std::nan("")};
}

// `a` better than `b`; NaN is worse than anything.
bool better(double a, double b, Direction direction) {
  if (std::isnan(a) || std::isnan(b)) return !std::isnan(a) && std::isnan(b);
  return direction == Direction::Maximize ? a > b : a < b;
}

}  // namespace

std::vector<const TrialRecord*> usable_trials(const std::vector<TrialRecord>& history,
                                              int64_t number, const SearchSpace& space) {
  std::vector<const TrialRecord*> out;
  for (const TrialRecord& t : history) {
    if (t.number >= number || !is_finished(t.state) || !counts(t.state)) continue;
    try {
      (void)space.to_unit(t.params);  // a value for every dimension, within it
    } catch (const std::exception&) {
      continue;
    }
    out.push_back(&t);
  }
  std::sort(out.begin(), out.end(),
            [](const TrialRecord* a, const TrialRecord* b) { return a->number < b->number; });
  return out;
}

bool ranks_before(const TrialRecord& a, const TrialRecord& b, Direction direction) {
  const int ca = rank_class(a), cb = rank_class(b);
  if (ca != cb) return ca < cb;
  if (ca == 0 && *a.value != *b.value) return better(*a.value, *b.value, direction);
  if (ca == 1) {
    const auto [sa, va] = last_point(a);
    const auto [sb, vb] = last_point(b);
    if (sa != sb) return sa > sb;
    if (better(va, vb, direction)) return true;
    if (better(vb, va, direction)) return false;
  }
  return a.number < b.number;
}

std::vector<const TrialRecord*> ranked(std::vector<const TrialRecord*> trials,
                                       Direction direction) {
  std::sort(trials.begin(), trials.end(), [direction](const TrialRecord* a, const TrialRecord* b) {
    return ranks_before(*a, *b, direction);
  });
  return trials;
}

}  // namespace krill::hpo::samplers
