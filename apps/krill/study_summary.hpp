// The text view of a study: counts by state, the best trials as a table, the best parameters,
// the processes working on it.
#pragma once

#include <vector>

#include "hpo/storage.hpp"
#include "hpo/trial.hpp"

namespace krill::cli {

void print_study_summary(const hpo::StudyRecord& study, const std::vector<hpo::TrialRecord>& trials,
                         int top);
// The processes (runs) registered on the study: live ones with the trials they hold, and those
// that look gone (their trials are re-queued by the next process that asks for one).
void print_study_runs(const std::vector<hpo::RunRecord>& runs,
                      const std::vector<hpo::TrialRecord>& trials, double grace);

}  // namespace krill::cli
