// Storage: where a study lives. Declared here, implemented by src/store (SQLite for real studies,
// in memory for tests), so hpo never includes store. A handful of calls, each a complete state
// change that the implementation commits before returning: a crash loses at most the trials in
// flight, and those are recognised on resume (still Running) and run again.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hpo/trial.hpp"

namespace krill::hpo {

enum class Direction { Minimize, Maximize };
std::string to_string(Direction d);
Direction parse_direction(const std::string& s);  // "minimize" / "maximize"

struct StudyRecord {
  int64_t id = -1;  // assigned by the storage
  std::string name;
  Direction direction = Direction::Maximize;
  std::string objective;  // what the value is, e.g. "val_accuracy"
  std::string space;      // SearchSpace::fingerprint()
  std::string sampler;    // e.g. "random(seed=1)"
  std::string config;     // the study's other settings, canonical text (refused if changed)
  int64_t n_trials = 0;   // the total asked for
  double created = 0;     // seconds since the epoch
};

class Storage {
 public:
  virtual ~Storage() = default;

  virtual std::optional<StudyRecord> find_study(const std::string& name) = 0;
  virtual std::vector<StudyRecord> studies() = 0;
  // Creates a study; its name must be new. Returns its id.
  virtual int64_t create_study(const StudyRecord& study) = 0;
  // Updates n_trials (a resumed study may ask for more).
  virtual void set_trial_budget(int64_t study_id, int64_t n_trials) = 0;

  // Inserts a Running trial (number, params, started, worker).
  virtual void start_trial(int64_t study_id, const TrialRecord& trial) = 0;
  virtual void add_report(int64_t study_id, int64_t number, const Report& report) = 0;
  // Stores an early-stopping decision (one per step; a repeated step replaces it).
  virtual void add_decision(int64_t study_id, int64_t number, const DecisionRecord& decision) = 0;
  // Stores the final state, value, error, attrs and finish time of a trial.
  virtual void finish_trial(int64_t study_id, const TrialRecord& trial) = 0;

  // Every trial of the study, ordered by number, with its reports.
  virtual std::vector<TrialRecord> trials(int64_t study_id) = 0;
  // Removes the trials still Running (a previous process died with them) and returns their
  // numbers, so that they are run again.
  virtual std::vector<int64_t> take_interrupted(int64_t study_id) = 0;
};

}  // namespace krill::hpo
