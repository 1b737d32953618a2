// The text view of a study: counts by state, the best trials as a table, the best parameters.
#pragma once

#include <vector>

#include "hpo/storage.hpp"
#include "hpo/trial.hpp"

namespace krill::cli {

void print_study_summary(const hpo::StudyRecord& study, const std::vector<hpo::TrialRecord>& trials,
                         int top);

}  // namespace krill::cli
