// The text view of a study: counts by state, the best trials as a table, the best parameters,
// the processes working on it.
#pragma once

#include <string>
#include <vector>

#include "hpo/storage.hpp"
#include "hpo/trial.hpp"

namespace krill::cli {

// Stopped, failed and diverged trials are listed with their reasons (the first few; `all`: every
// trial, in number order, with its state and reason).
void print_study_summary(const hpo::StudyRecord& study, const std::vector<hpo::TrialRecord>& trials,
                         int top, bool all = false);
// Why a trial is not Completed: a failed or diverged trial's error, a stopped trial's stopping
// decision; "" for a Completed or Running trial.
std::string reason_of(const hpo::TrialRecord& trial);
// A PBT member's exploits, readably: "step 100: copied trial 0 at step 100, now lr=0.0488; ...";
// "" for a trial never exploited.
std::string exploits_text(const hpo::TrialRecord& trial);
// A PBT member's hyperparameters over its steps (those that change, else all): "steps 0-100
// lr=0.0009 (sampled); 100-400 lr=0.0488 (copied trial 0 at step 100)".
std::string schedule_text(const hpo::TrialRecord& trial);
// The path the final weights of member `number` took (report::weights_path): "steps 0-200
// lr=0.04 (trial 0); 200-400 lr=0.05 (trial 1, copied trial 0 at step 200)".
std::string weights_path_text(const std::vector<hpo::TrialRecord>& trials, int64_t number);
// The processes (runs) registered on the study: live ones with the trials they hold, and those
// that look gone (their trials are re-queued by the next process that asks for one).
void print_study_runs(const std::vector<hpo::RunRecord>& runs,
                      const std::vector<hpo::TrialRecord>& trials, double grace);

}  // namespace krill::cli
