// Text charts for the terminal (`krill show`): a study's optimization history at a glance.
#pragma once

#include <string>
#include <vector>

#include "hpo/storage.hpp"
#include "hpo/trial.hpp"

namespace krill::report {

// The best-so-far curve over finished trials in order of finishing, as `height` lines of at most
// `width` columns plus an axis line: '*' marks each column's best-so-far value, '.' the trials'
// own values. Trials without a value (failed, diverged) are skipped. Returns "" when no trial has
// a value.
std::string best_so_far_chart(const std::vector<hpo::TrialRecord>& trials, hpo::Direction direction,
                              int width = 60, int height = 8);

}  // namespace krill::report
