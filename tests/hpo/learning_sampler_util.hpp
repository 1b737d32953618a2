// Shared by the tests of the samplers that learn (TPE, evolution): a serial study without storage.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "hpo/sampler.hpp"

namespace krill::hpo::testing {

// Trials [from, to) proposed by `sampler` one after the other, each finished with
// objective(params) as a Completed trial before the next is proposed, appended to `history`
// (which may hold earlier trials: a resumed study).
inline void run_serial(Sampler& sampler, const SearchSpace& space, int64_t from, int64_t to,
                       const std::function<double(const Params&)>& objective,
                       std::vector<TrialRecord>& history) {
  for (int64_t n = from; n < to; ++n) {
    std::optional<Params> p = sampler.sample(space, n, history);
    TrialRecord t;
    t.number = n;
    t.params = std::move(*p);
    t.state = TrialState::Completed;
    t.value = objective(t.params);
    history.push_back(std::move(t));
  }
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace krill::hpo::testing
