// The `stopping:` section of a study file: which early-stopping rule a study uses and its
// options (docs/STUDY-FILE.md). Kept apart from study_file.cpp, which parses the rest.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "hpo/stopper.hpp"
#include "tune/yaml_util.hpp"

namespace krill::tune {

struct StoppingConfig {
  std::string rule = "none";  // none | lcm | median | asha | hyperband
  hpo::LcmOptions lcm;
  hpo::MedianOptions median;
  hpo::AshaOptions asha;
  // "<file>:<line>:<column>: " of the section ("stopping"), its rule ("rule") and each option
  // written (by name), for the checks made once the data is known.
  std::map<std::string, std::string> positions;
};

// Parses the section (a map); errors name the line and column, unknown keys get suggestions, and
// an option of another rule is refused ("'eta' is an option of asha and hyperband, not lcm").
StoppingConfig parse_stopping(const yaml::Source& source, const yaml::Entry& section);

// The steps at which a study's trials report a learning-curve point, over every configuration its
// search space can give them. The trainer reports every `eval_every` iterations (each epoch when
// it is not set) and at its last iteration.
struct ReportSteps {
  struct Run {
    int64_t last;       // the last iteration: iterations, or epochs x per_epoch
    int64_t per_epoch;  // batches per epoch
    auto operator<=>(const Run&) const = default;
  };
  std::vector<Run> runs;       // the distinct (last, per_epoch) of every batch, epochs, iterations
  std::vector<int64_t> every;  // the values eval_every may take (each >= 1)
  bool each_epoch = false;     // eval_every may be unset: a point at the end of each epoch

  bool reaches(int64_t step) const;  // some trial reports at `step`
  int64_t last() const;              // the last step any trial reports at
  // Some trial reports at `step` before its last step: a stopping rule decides there (a trial's
  // final report is its result, no rule is asked there).
  bool decides_at(int64_t step) const;
  int64_t last_decision() const;  // the last step where a rule decides; 0: none
  // What follows "trials report ": "at steps 150 and 300 (one per epoch of 150 batches, the last
  // at step 300)", or "every 7 to 9 iterations and at their last step, 15 to 225".
  std::string describe() const;
};

// Throws InvalidArgument at the option's position when the rule could never act in a study of
// `trials` trials: lcm's `accumulate` or median's `min_trials` not below `trials`, asha with no
// two trials in a bracket, an lcm checkpoint no trial reports at before its last step, median's
// `grace` or asha's `min_resource` after the last step where a rule decides. `steps` null: not
// known (the search space allows too many configurations to list), the checks that need them are
// skipped.
void check_stopping_acts(const StoppingConfig& config, const ReportSteps* steps, int64_t trials);

// nullptr for "none".
std::unique_ptr<hpo::Stopper> make_stopper(const StoppingConfig& config);

}  // namespace krill::tune
