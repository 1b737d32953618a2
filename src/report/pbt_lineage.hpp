// The lineage of a Population Based Training study, read from its trials' decisions: each
// exploit (hpo::Action::Exploit) is a member copying a donor's state at the donor's step and
// taking new hyperparameters. Shared by `krill show` (a member's schedule), the SVG figures and
// the HTML report's data.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "hpo/trial.hpp"

namespace krill::report {

// A stretch of a member's training with one set of hyperparameters.
struct ScheduleSegment {
  int64_t from = 0;    // the step it starts at: 0, or the step of an exploit
  int64_t to = 0;      // the next exploit's step, or the member's last reported step
  hpo::Params params;  // the hyperparameters during the stretch
  int64_t donor = -1;  // -1: sampled at the start; else the trial whose state was copied
  int64_t donor_step = -1;
};

// The path a member's final weights took: each stretch of steps, the member that trained them
// then and with which hyperparameters. A member's own history (member_schedule) is the history
// of its slot; its weights' history crosses into the donor at each exploit: before a copy at step
// s, the weights were the donor's, trained by the donor's own path up to s.
struct PathSegment {
  int64_t trial = 0;  // the member that trained the weights over [from, to]
  int64_t from = 0;
  int64_t to = 0;
  hpo::Params params;        // its hyperparameters then
  int64_t copied_from = -1;  // the segment starts with a copy of this trial's state (-1: none)
};
// Oldest first; empty when `number` is not among `trials`. A donor missing from `trials` ends
// the walk (the path then starts at the copy).
std::vector<PathSegment> weights_path(const std::vector<hpo::TrialRecord>& trials, int64_t number);

// The trial's exploit decisions, by step.
std::vector<const hpo::DecisionRecord*> exploits_of(const hpo::TrialRecord& t);
// Exploits over all the trials (0: not a PBT study, or no generation replaced a member yet).
size_t count_exploits(const std::vector<hpo::TrialRecord>& trials);
// The member's hyperparameters over its steps: the sampled ones until its first exploit, then
// each exploit's. One segment for a trial never exploited.
std::vector<ScheduleSegment> member_schedule(const hpo::TrialRecord& t);
// The hyperparameters the trial ended with: its last exploit's, else its sampled ones.
const hpo::Params& final_params(const hpo::TrialRecord& t);
// The names whose value differs between two segments, in name order; every name of the first
// segment when none does.
std::vector<std::string> changing_params(const std::vector<ScheduleSegment>& schedule);

// "lr=0.0488 momentum=0.9": the `names` of `params` (every one when empty), numbers to 4
// significant digits.
std::string params_text(const hpo::Params& params, const std::vector<std::string>& names = {});
// "trial 3 copied trial 0 at step 100: lr=0.0488" (the changing hyperparameters of its schedule).
std::string exploit_title(const hpo::TrialRecord& t, const hpo::DecisionRecord& exploit);

// The learning rate right after an exploit: the rate reported at the exploit's step scaled by
// the new "lr" over the one before (the schedule's factor carries over); nullopt when the trial
// reported no "lr" at that step or has no "lr" parameter.
std::optional<double> lr_after(const hpo::TrialRecord& t, const hpo::DecisionRecord& exploit);
// The trial's reported "lr" points (finite ones), with a step at each exploit that changed it:
// (step, the rate before) then (step, lr_after). Just the reported points without exploits.
std::vector<std::pair<double, double>> lr_points(const hpo::TrialRecord& t);

}  // namespace krill::report
