// MemoryStorage: a Storage that keeps everything in this process's memory, guarded by a mutex.
// It is what tests (and `open_storage(":memory:")`) use: no file, nothing survives the object.
// It behaves exactly as SqliteStorage does, including its errors and its treatment of NaN (a NaN
// final value is stored as no value), so one test suite runs against both.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "hpo/storage.hpp"

namespace krill::store {

class MemoryStorage final : public hpo::Storage {
 public:
  std::optional<hpo::StudyRecord> find_study(const std::string& name) override;
  std::vector<hpo::StudyRecord> studies() override;
  int64_t create_study(const hpo::StudyRecord& study) override;
  void set_trial_budget(int64_t study_id, int64_t n_trials) override;
  void rename_study(int64_t study_id, const std::string& name) override;
  void delete_study(int64_t study_id) override;

  void add_run(int64_t study_id, const hpo::RunRecord& run) override;
  bool heartbeat(const std::string& run_id, double now) override;
  void remove_run(const std::string& run_id) override;
  std::vector<hpo::RunRecord> runs(int64_t study_id) override;
  hpo::Claim claim_trial(int64_t study_id, const hpo::ClaimRequest& request) override;
  void start_trial(int64_t study_id, const hpo::TrialRecord& trial) override;
  // Storage's forms without an owner, beside the overrides below.
  using hpo::Storage::add_decision;
  using hpo::Storage::add_report;
  void add_report(int64_t study_id, int64_t number, const hpo::Report& report,
                  const std::string& owner) override;
  void add_decision(int64_t study_id, int64_t number, const hpo::DecisionRecord& decision,
                    const std::string& owner) override;
  void finish_trial(int64_t study_id, const hpo::TrialRecord& trial) override;

  std::vector<hpo::TrialRecord> trials(int64_t study_id) override;

 private:
  using TrialMap = std::map<int64_t, hpo::TrialRecord>;  // by number
  // Both throw InvalidArgument naming the missing study or trial. Callers hold mutex_.
  TrialMap& study_trials(int64_t study_id);
  hpo::TrialRecord& trial(int64_t study_id, int64_t number);

  std::mutex mutex_;
  // By id; a new study's id is the highest + 1 (as SQLite's rowid, which may reuse a deleted one).
  std::map<int64_t, hpo::StudyRecord> studies_;
  std::map<int64_t, TrialMap> trials_;                              // by study id
  std::map<std::string, std::pair<int64_t, hpo::RunRecord>> runs_;  // by id: (study id, run)
  std::map<int64_t, std::set<int64_t>> running_;  // by study id: numbers of its Running trials
};

}  // namespace krill::store
