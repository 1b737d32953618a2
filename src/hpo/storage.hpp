// Storage: where a study lives. Declared here, implemented by src/store (SQLite for real studies,
// in memory for tests), so hpo never includes store. A handful of calls, each a complete state
// change that the implementation commits before returning: a crash loses at most the trials in
// flight. Several processes may share one storage (one SQLite file): each registers a run
// (hpo/lease.hpp) and takes trials with claim_trial(), which hands out distinct numbers within the
// study's budget and re-queues the trials of runs that are gone.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "hpo/lease.hpp"
#include "hpo/trial.hpp"

namespace krill::hpo {

// Where a study lives, as the user names it: a SQLite file's path, ":memory:", or a database
// server's URL (postgresql://user[:password]@host[:port]/dbname[?key=value...]).
bool is_server_url(const std::string& location);  // postgresql:// or postgres://
// `location` fit to print: a URL's password (any scheme://), in the user part or as a
// `password=` query value, becomes "***". Anything else is returned as it is.
std::string display_location(const std::string& location);
// A server URL's database name (its path, percent-decoded; else the URL's user, libpq's default;
// else ""). Names the files a study keeps on disk (tune/study_files.hpp).
std::string url_database(const std::string& url);

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

// Thrown by finish_trial(), add_report() and add_decision() when the trial's lease now belongs to
// another run (its owner was taken for gone and the trial re-queued): the result is dropped, the
// other run's attempt counts.
class LeaseLost : public Error {
 public:
  using Error::Error;
};

// What claim_trial() needs from the study: who claims, the budget, how to tell a gone run, and
// the parameters of a new trial.
struct ClaimRequest {
  std::string owner;  // the claiming run's id (registered with add_run)
  int worker = -1;
  double started = 0;  // seconds since the epoch
  int64_t budget = 0;  // trials the study may hold, in every state
  std::function<bool(const RunRecord&)> gone;
  // Parameters for a new trial of this number; nullopt when the sampler has no more.
  std::function<std::optional<Params>(int64_t number)> propose;
  // A re-queued trial keeps its reports and decisions (a PBT member resumes from its saved
  // state and its lineage stays); else they are deleted and it starts afresh.
  bool keep_history = false;
};

struct Claim {
  std::optional<TrialRecord> trial;  // Running, owned by the claiming run; nullopt: none to take
  bool requeued = false;             // a gone run's trial, with its stored parameters
  bool exhausted = false;            // propose() returned nullopt
  int64_t finished = 0;              // trials of the study in a final state, after the claim
  int64_t running = 0;               // Running trials of any run, after the claim
  std::vector<RunRecord> gone;       // runs found gone (and removed) by this claim
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
  // Gives the study another name; throws InvalidArgument when the study is missing or the name
  // taken.
  virtual void rename_study(int64_t study_id, const std::string& name) = 0;
  // Deletes the study with its trials (and all they hold) and its runs, in one transaction;
  // throws InvalidArgument when the study is missing. A process still working on the study loses
  // it (its calls fail): the caller checks runs() first.
  virtual void delete_study(int64_t study_id) = 0;

  // Runs: the processes working on a study, with their heartbeats.
  virtual void add_run(int64_t study_id, const RunRecord& run) = 0;
  // Renews a run's heartbeat; false when the run is no longer registered (another process took
  // it for gone and re-queued its trials).
  virtual bool heartbeat(const std::string& run_id, double now) = 0;
  // Unregisters a run (it ends); trials it still holds become free for others.
  virtual void remove_run(const std::string& run_id) = 0;
  virtual std::vector<RunRecord> runs(int64_t study_id) = 0;

  // In one transaction: removes the study's runs that `request.gone` says are gone; then takes
  // the lowest-numbered Running trial whose owner is not a registered run (re-queued: its rows
  // deleted but for its parameters, `requeues` + 1, owned by the claimant), or else, while the
  // study holds fewer than `request.budget` trials, inserts trial max(number) + 1 with the
  // parameters `request.propose` gives it.
  virtual Claim claim_trial(int64_t study_id, const ClaimRequest& request) = 0;
  // Inserts a Running trial (number, params, started, worker, owner) as it is given.
  virtual void start_trial(int64_t study_id, const TrialRecord& trial) = 0;
  // Stores a report (one per step; a repeated step replaces it). `owner`: when not empty and the
  // stored trial is owned by another run, throws LeaseLost and stores nothing, as finish_trial:
  // the attempt of a run taken for gone (stopped, cut off from the database) ends at its next
  // report, and its curve does not mix with the new attempt's.
  virtual void add_report(int64_t study_id, int64_t number, const Report& report,
                          const std::string& owner) = 0;
  void add_report(int64_t study_id, int64_t number, const Report& report) {
    add_report(study_id, number, report, std::string());
  }
  // Stores a decision (one per step; a repeated step replaces it), with an exploit's donor and
  // new parameters. `owner` as for add_report.
  virtual void add_decision(int64_t study_id, int64_t number, const DecisionRecord& decision,
                            const std::string& owner) = 0;
  void add_decision(int64_t study_id, int64_t number, const DecisionRecord& decision) {
    add_decision(study_id, number, decision, std::string());
  }
  // Stores the final state, value, error, attrs and finish time of a trial. When trial.owner is
  // set and the stored trial is owned by another run, throws LeaseLost and stores nothing.
  virtual void finish_trial(int64_t study_id, const TrialRecord& trial) = 0;

  // Every trial of the study, ordered by number, with its reports.
  virtual std::vector<TrialRecord> trials(int64_t study_id) = 0;

  // Group commit: the calls made between begin_batch() and commit_batch() (by any thread) are
  // committed together by commit_batch(), each still all-or-nothing on its own; a batch left
  // without commit_batch() (an exception) is rolled back by end_batch(). Use StorageBatch.
  // Storages without transactions of their own (memory) do nothing.
  virtual void begin_batch() {}
  virtual void commit_batch() {}
  virtual void end_batch() noexcept {}
};

// Copies study `study` of `from`, with every trial as it is stored (parameters, state, value,
// error, attributes, times, worker, owner, re-queues, learning curve with its metrics, decisions
// with their parameters), into `to` under the name `name`, through the calls every Storage has
// (create_study, start_trial, add_report, add_decision, finish_trial) in one batch (in a storage
// with transactions, all of it or, when a call fails, nothing). `from` and `to` may be the same
// storage. A Running trial stays
// Running, owned by a run that `to` does not hold: a study resumed there re-queues it. Throws
// InvalidArgument when `to` has a study of that name. Returns the new study's id.
int64_t copy_study(Storage& from, const StudyRecord& study, Storage& to, const std::string& name);

// One batch (see Storage::begin_batch) for the life of the object: commit() commits it, leaving
// the scope without commit() rolls it back.
class StorageBatch {
 public:
  explicit StorageBatch(Storage& storage) : storage_(storage) { storage_.begin_batch(); }
  ~StorageBatch() {
    if (!done_) storage_.end_batch();
  }
  StorageBatch(const StorageBatch&) = delete;
  StorageBatch& operator=(const StorageBatch&) = delete;
  void commit() {
    done_ = true;  // commit_batch() ends the batch even when it throws
    storage_.commit_batch();
  }

 private:
  Storage& storage_;
  bool done_ = false;
};

}  // namespace krill::hpo
