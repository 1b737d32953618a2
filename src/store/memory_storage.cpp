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
  for (const auto& [id, s] : studies_)
    if (s.name == name) return s;
  return std::nullopt;
}

std::vector<StudyRecord> MemoryStorage::studies() {
  std::lock_guard lock(mutex_);
  std::vector<StudyRecord> out;
  out.reserve(studies_.size());
  for (const auto& [id, s] : studies_) out.push_back(s);
  return out;
}

int64_t MemoryStorage::create_study(const StudyRecord& study) {
  std::lock_guard lock(mutex_);
  for (const auto& [id, s] : studies_)
    if (s.name == study.name) throw InvalidArgument("study '" + study.name + "' already exists");
  StudyRecord stored = study;
  stored.id = studies_.empty() ? 1 : studies_.rbegin()->first + 1;
  studies_[stored.id] = stored;
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
  studies_.at(study_id).n_trials = n_trials;
}

void MemoryStorage::rename_study(int64_t study_id, const std::string& name) {
  std::lock_guard lock(mutex_);
  study_trials(study_id);  // throws when the study is missing
  for (const auto& [id, s] : studies_) {
    if (s.name == name && id != study_id) {
      throw InvalidArgument("study '" + name + "' already exists");
    }
  }
  studies_.at(study_id).name = name;
}

void MemoryStorage::delete_study(int64_t study_id) {
  std::lock_guard lock(mutex_);
  study_trials(study_id);  // throws when the study is missing
  studies_.erase(study_id);
  trials_.erase(study_id);
  running_.erase(study_id);
  std::erase_if(runs_, [&](const auto& entry) { return entry.second.first == study_id; });
}

void MemoryStorage::add_run(int64_t study_id, const hpo::RunRecord& run) {
  std::lock_guard lock(mutex_);
  study_trials(study_id);  // throws when the study is missing
  if (runs_.contains(run.id)) throw InvalidArgument("run " + run.id + " already exists");
  runs_[run.id] = {study_id, run};
}

bool MemoryStorage::heartbeat(const std::string& run_id, double now) {
  std::lock_guard lock(mutex_);
  auto it = runs_.find(run_id);
  if (it == runs_.end()) return false;
  it->second.second.heartbeat = now;
  return true;
}

void MemoryStorage::remove_run(const std::string& run_id) {
  std::lock_guard lock(mutex_);
  runs_.erase(run_id);
}

std::vector<hpo::RunRecord> MemoryStorage::runs(int64_t study_id) {
  std::lock_guard lock(mutex_);
  std::vector<hpo::RunRecord> out;
  for (const auto& [id, entry] : runs_) {
    if (entry.first == study_id) out.push_back(entry.second);
  }
  std::sort(out.begin(), out.end(), [](const hpo::RunRecord& a, const hpo::RunRecord& b) {
    return a.started != b.started ? a.started < b.started : a.id < b.id;
  });
  return out;
}

hpo::Claim MemoryStorage::claim_trial(int64_t study_id, const hpo::ClaimRequest& request) {
  std::lock_guard lock(mutex_);
  TrialMap& trials = study_trials(study_id);
  hpo::Claim claim;
  for (auto it = runs_.begin(); it != runs_.end();) {
    const auto& [owner_study, run] = it->second;
    if (owner_study == study_id && run.id != request.owner && request.gone && request.gone(run)) {
      claim.gone.push_back(run);
      it = runs_.erase(it);
    } else {
      ++it;
    }
  }
  TrialRecord t;
  t.owner = request.owner;
  t.worker = request.worker;
  t.started = request.started;
  std::set<int64_t>& running = running_[study_id];
  for (const int64_t number : running) {  // by number: the lowest orphan first
    TrialRecord& stored = trials.at(number);
    if (runs_.contains(stored.owner)) continue;
    t.number = number;
    t.params = std::move(stored.params);
    t.requeues = stored.requeues + 1;
    if (request.keep_history) {
      stored.owner = t.owner;
      stored.worker = t.worker;
      stored.started = t.started;
      stored.requeues = t.requeues;
      stored.params = t.params;
    } else {
      stored = t;  // a fresh attempt: reports, decisions and attrs dropped
    }
    claim.requeued = true;
    claim.trial = t;
    break;
  }
  const auto total = static_cast<int64_t>(trials.size());
  if (!claim.trial && total < request.budget) {
    const int64_t next = trials.empty() ? 0 : trials.rbegin()->first + 1;
    if (auto params = request.propose ? request.propose(next) : std::nullopt) {
      t.number = next;
      t.params = std::move(*params);
      trials[next] = t;
      running.insert(next);
      claim.trial = std::move(t);
    } else {
      claim.exhausted = true;
    }
  }
  claim.running = static_cast<int64_t>(running.size());
  claim.finished = static_cast<int64_t>(trials.size()) - claim.running;
  return claim;
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
  stored.owner = trial.owner;
  stored.requeues = trial.requeues;
  running_[study_id].insert(trial.number);
}

namespace {

// The error of a call made by `owner` on a trial that `stored` (another run) holds now.
hpo::LeaseLost lease_lost(int64_t study_id, int64_t number, const std::string& stored,
                          const std::string& owner) {
  return hpo::LeaseLost("trial " + std::to_string(number) + " of study with id " +
                        std::to_string(study_id) + " was re-queued to run " + stored +
                        " (this run, " + owner + ", was taken for gone)");
}

}  // namespace

void MemoryStorage::add_report(int64_t study_id, int64_t number, const Report& report,
                               const std::string& owner) {
  std::lock_guard lock(mutex_);
  TrialRecord& stored = trial(study_id, number);
  if (!owner.empty() && stored.owner != owner)
    throw lease_lost(study_id, number, stored.owner, owner);
  std::vector<Report>& reports = stored.reports;
  auto it = std::lower_bound(reports.begin(), reports.end(), report.step,
                             [](const Report& r, int64_t step) { return r.step < step; });
  if (it != reports.end() && it->step == report.step) {
    *it = report;  // a repeated step replaces the old value and metrics
  } else {
    reports.insert(it, report);
  }
}

void MemoryStorage::add_decision(int64_t study_id, int64_t number,
                                 const hpo::DecisionRecord& decision, const std::string& owner) {
  std::lock_guard lock(mutex_);
  TrialRecord& stored = trial(study_id, number);
  if (!owner.empty() && stored.owner != owner)
    throw lease_lost(study_id, number, stored.owner, owner);
  auto& decisions = stored.decisions;
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
  if (!trial.owner.empty() && stored.owner != trial.owner) {
    throw lease_lost(study_id, trial.number, stored.owner, trial.owner);
  }
  stored.state = trial.state;
  if (trial.state != TrialState::Running) running_[study_id].erase(trial.number);
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

}  // namespace krill::store
