#include "store/memory_storage.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"

namespace krill::store {

using hpo::Report;
using hpo::StudyRecord;
using hpo::TrialRecord;
using hpo::TrialState;

std::optional<StudyRecord> MemoryStorage::find_study(const std::string& name) {
  std::lock_guard lock(mutex_);
  for (const StudyRecord& s : studies_)
    if (s.name == name) return s;
  return std::nullopt;
}

std::vector<StudyRecord> MemoryStorage::studies() {
  std::lock_guard lock(mutex_);
  return studies_;
}

int64_t MemoryStorage::create_study(const StudyRecord& study) {
  std::lock_guard lock(mutex_);
  for (const StudyRecord& s : studies_)
    if (s.name == study.name) throw InvalidArgument("study '" + study.name + "' already exists");
  StudyRecord stored = study;
  stored.id = static_cast<int64_t>(studies_.size()) + 1;
  studies_.push_back(stored);
  trials_[stored.id];
  return stored.id;
}

MemoryStorage::TrialMap& MemoryStorage::study_trials(int64_t study_id) {
  auto it = trials_.find(study_id);
  if (it == trials_.end()) throw InvalidArgument("no study with id " + std::to_string(study_id));
  return it->second;
}

TrialRecord& MemoryStorage::trial(int64_t study_id, int64_t number) {
  TrialMap& trials = study_trials(study_id);
  auto it = trials.find(number);
  if (it == trials.end()) {
    throw InvalidArgument("no trial " + std::to_string(number) + " in study with id " +
                          std::to_string(study_id));
  }
  return it->second;
}

void MemoryStorage::set_trial_budget(int64_t study_id, int64_t n_trials) {
  std::lock_guard lock(mutex_);
  study_trials(study_id);  // throws when the study is missing
  studies_[study_id - 1].n_trials = n_trials;
}

void MemoryStorage::start_trial(int64_t study_id, const TrialRecord& trial) {
  std::lock_guard lock(mutex_);
  TrialMap& trials = study_trials(study_id);
  if (trials.contains(trial.number)) {
    throw InvalidArgument("trial " + std::to_string(trial.number) + " of study with id " +
                          std::to_string(study_id) + " already exists");
  }
  // Only what a starting trial has; the rest comes with add_report and finish_trial.
  TrialRecord& stored = trials[trial.number];
  stored.number = trial.number;
  stored.params = trial.params;
  stored.started = trial.started;
  stored.worker = trial.worker;
}

void MemoryStorage::add_report(int64_t study_id, int64_t number, const Report& report) {
  std::lock_guard lock(mutex_);
  std::vector<Report>& reports = trial(study_id, number).reports;
  auto it = std::lower_bound(reports.begin(), reports.end(), report.step,
                             [](const Report& r, int64_t step) { return r.step < step; });
  if (it != reports.end() && it->step == report.step) {
    *it = report;  // a repeated step replaces the old value and metrics
  } else {
    reports.insert(it, report);
  }
}

void MemoryStorage::add_decision(int64_t study_id, int64_t number,
                                 const hpo::DecisionRecord& decision) {
  std::lock_guard lock(mutex_);
  auto& decisions = trial(study_id, number).decisions;
  auto it =
      std::lower_bound(decisions.begin(), decisions.end(), decision.step,
                       [](const hpo::DecisionRecord& d, int64_t step) { return d.step < step; });
  if (it != decisions.end() && it->step == decision.step) {
    *it = decision;
  } else {
    decisions.insert(it, decision);
  }
}

void MemoryStorage::finish_trial(int64_t study_id, const TrialRecord& trial) {
  std::lock_guard lock(mutex_);
  TrialRecord& stored = this->trial(study_id, trial.number);
  stored.state = trial.state;
  // As in SQLite, which stores NaN as NULL: a NaN value is no value.
  stored.value = trial.value && !std::isnan(*trial.value) ? trial.value : std::nullopt;
  stored.error = trial.error;
  stored.attrs = trial.attrs;
  stored.finished = trial.finished;
}

std::vector<TrialRecord> MemoryStorage::trials(int64_t study_id) {
  std::lock_guard lock(mutex_);
  std::vector<TrialRecord> out;
  auto it = trials_.find(study_id);
  if (it == trials_.end()) return out;
  out.reserve(it->second.size());
  for (const auto& [number, t] : it->second) out.push_back(t);
  return out;
}

std::vector<int64_t> MemoryStorage::take_interrupted(int64_t study_id) {
  std::lock_guard lock(mutex_);
  std::vector<int64_t> numbers;
  auto it = trials_.find(study_id);
  if (it == trials_.end()) return numbers;
  std::erase_if(it->second, [&](const auto& entry) {
    if (entry.second.state != TrialState::Running) return false;
    numbers.push_back(entry.first);  // erase_if on a map visits keys in order
    return true;
  });
  return numbers;
}

}  // namespace krill::store
