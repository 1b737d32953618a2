// Study: a search over a SearchSpace, persisted in a Storage. Opening a study that exists resumes
// it, or joins it while other processes work on it: its finished trials are kept, a changed
// space, sampler or configuration is refused with an error that says what changed.
//
// Each Study object is a run (hpo/lease.hpp): it registers itself in the storage, renews a
// heartbeat from a thread of its own, and owns the trials it runs. ask() takes the next trial
// from the storage in one transaction: a trial whose run is gone (its process died) is re-queued
// with its number and stored parameters, else a new number is sampled while the study holds
// fewer trials than its budget. When neither is possible but trials of live runs are still
// running, ask() waits (one of them may die and need running again): every process stops when
// the study holds its budget of finished trials.
//
// ask()/tell() are thread-safe; optimize() runs trials until then, on the executor given
// (serially by default; exec::LocalExecutor runs them on threads). An objective that throws makes
// a Failed trial, one that returns NaN/Inf or throws hpo::Diverged a Diverged one; the study goes
// on.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "core/error.hpp"
#include "hpo/lease.hpp"
#include "hpo/pbt.hpp"
#include "hpo/sampler.hpp"
#include "hpo/search_space.hpp"
#include "hpo/stopper.hpp"
#include "hpo/storage.hpp"
#include "hpo/trial.hpp"

namespace krill::hpo {

// Thrown by an objective whose training diverged (NaN/Inf loss).
class Diverged : public Error {
 public:
  using Error::Error;
};

using Objective = std::function<double(Trial&)>;

// An objective that can also train several trials at once (tune's TrainingObjective: a
// population of same-architecture networks in batched kernels, train/population.hpp). The local
// executor, asked to (LocalOptions::population), hands it trials of one group together.
class GroupObjective {
 public:
  virtual ~GroupObjective() = default;
  // Trials whose keys are equal and not empty can train together; "" trains alone.
  virtual std::string group(int64_t number, const Params& params) const = 0;
  // A trial's result: its value, or the exception it ended with (hpo::Diverged for a divergence),
  // as an Objective would return or throw it.
  using Result = std::variant<double, std::exception_ptr>;
  using Finish = std::function<void(size_t index, Result result)>;
  // Trains `trials` (of one group) together; they report and set attributes through their Trial
  // as usual. finish(i, result) settles trials[i] (at once: a member that leaves early is
  // finished for the study, which a PBT generation waits on); a trial run() does not finish, or
  // every trial left when run() throws, ends with an error.
  virtual void run(const std::vector<Trial*>& trials, const Finish& finish) = 0;
};

struct StudyProgress {
  int64_t finished = 0;       // all final states, by every run
  int64_t failed = 0;         // Failed + Diverged, by every run
  int64_t running = 0;        // by this run
  int64_t finished_here = 0;  // by this run, in this optimize() call
  int64_t failed_here = 0;
  std::string first_error;  // of the first trial of this call that failed or diverged
  // Trials of this call another run took back while this one was silent past the grace period
  // (stopped, or cut off from the database): run there, their results here dropped (LeaseLost).
  std::vector<int64_t> lost_here;
  // PBT members of this call left running in the database, for a later resume: once one member
  // was taken back, its population here cannot go on (a generation ranks all of them), so the
  // others stop without a result and are re-queued when this process ends.
  std::vector<int64_t> left_here;
  // The sampler has no more trials to propose (a grid whose every point is a trial): the study
  // ends there, below its budget if that was larger.
  bool exhausted = false;
  int64_t total = 0;
  std::optional<double> best;
  double elapsed = 0;  // seconds in this optimize() call
  double eta = 0;      // seconds, estimated from this call's pace
};

class Study;

// The best of `trials`: Completed, with a value; of equal values the lowest number.
std::optional<TrialRecord> best_of(const std::vector<TrialRecord>& trials, Direction direction);

// Runs a study's trials; the scheduler (Study) decides, the executor acts.
class Executor {
 public:
  virtual ~Executor() = default;
  virtual void run(Study& study, const Objective& objective) = 0;
};

struct OptimizeOptions {
  // How long ask() sleeps before it looks again when other runs hold the last trials (a trial
  // of this process ending wakes it at once).
  double poll_seconds = 0.1;
  Executor* executor = nullptr;  // nullptr: one trial at a time on the calling thread
  std::function<void(const StudyProgress&)> on_progress;  // after each finished trial
  const std::atomic<bool>* cancel = nullptr;              // set to stop handing out trials (Ctrl-C)
};

class Study {
 public:
  // Creates `record.name` in `storage`, or resumes it (see above). Throws InvalidArgument.
  // `stopper` (optional) decides at each report whether a trial goes on; its describe() text is
  // part of the study's settings.
  // `pbt` (optional) makes the study a PBT population (hpo/pbt.hpp): its trials are the members
  // (the budget must equal the population), all running at once; a member's report at a PBT
  // step waits for the generation's decision. A re-queued member keeps its history. PBT and a
  // stopper do not combine.
  Study(StudyRecord record, SearchSpace space, std::unique_ptr<Sampler> sampler, Storage& storage,
        std::unique_ptr<Stopper> stopper = nullptr, LeaseOptions lease = {},
        std::unique_ptr<Pbt> pbt = nullptr);
  // Unregisters the run: trials it still holds are free for other processes.
  ~Study();
  Study(const Study&) = delete;
  Study& operator=(const Study&) = delete;

  // The next trial to run, recorded as Running and owned by this run; nullopt when the study
  // holds its budget of finished trials, or the sampler is exhausted and no trial is running,
  // or optimize() was cancelled. Waits while only other runs' trials stand in the way.
  std::optional<TrialRecord> ask(int worker = -1);
  // ask() without the wait, for an executor that serves many workers from one thread (the MPI
  // manager): `wait` when there is no trial now but trials still running may need running again.
  struct Handout {
    std::optional<TrialRecord> trial;
    bool wait = false;
  };
  Handout try_ask(int worker = -1);
  // Final result of a trial from ask(): state, value, error, attrs.
  void tell(TrialRecord trial);
  // Persists a learning-curve point of a running trial; with a stopper, asks it and stores its
  // decision. Returns false when the trial should stop.
  bool report(int64_t number, const Report& report) { return !decide(number, report).stops(); }
  // report(), with the stopper's decision and its reason (Continue, no reason: no stopper). In a
  // PBT study a report at a PBT step waits for its generation's decision; with a Trainable its
  // state is offered to the generation's recipients, and an Exploit is carried out (the donor's
  // state loaded, the new hyperparameters set) before it returns. Without one at a PBT step:
  // InvalidArgument (the objective must attach one, hpo::Trial::attach). Outside PBT, LeaseLost
  // when another run has taken the trial back (this one was taken for gone): the attempt ends
  // (a population's member and an MPI worker are told to stop instead: decide_or_leave). In a
  // PBT study every member is told to stop then (a Stop with `lost`, not stored): its population
  // cannot go on without the member taken back.
  DecisionRecord decide(int64_t number, const Report& report, Trainable* trainable = nullptr);

  // decide() without the wait, for an executor that serves many workers from one thread (the MPI
  // manager, which moves the states between ranks itself). Stores the report and returns the
  // decisions that can be given now: this trial's, or none while its PBT generation is
  // incomplete, and then every waiting member's of that generation. take_released(): decisions
  // released since by other events (a member finished, the study was cancelled).
  struct Released {
    int64_t number = 0;
    DecisionRecord decision;
  };
  std::vector<Released> submit(int64_t number, const Report& report);
  std::vector<Released> take_released();
  const Pbt* pbt() const { return pbt_.get(); }

  // Runs one trial from ask() through `objective`, and tells the result; the objective may use
  // `threads` threads, or as many as `thread_budget` says at the moment it asks.
  void run_trial(TrialRecord trial, const Objective& objective, int threads = 1);
  void run_trial(TrialRecord trial, const Objective& objective, std::function<int()> thread_budget);
  // Runs trials from ask() together through `objective` (one group), and tells each result.
  void run_trials(std::vector<TrialRecord> trials, GroupObjective& objective,
                  std::function<int()> thread_budget);
  void optimize(const Objective& objective, const OptimizeOptions& options = {});

  const StudyRecord& record() const { return record_; }
  Storage& storage() const { return storage_; }
  const RunRecord& run() const { return run_; }
  // Live runs of this study on this host, this one included: processes that share its cores.
  // Looked up at most 4 times a second, from ask() and report().
  int local_runs() const { return local_runs_.load(); }
  const SearchSpace& space() const { return space_; }
  std::vector<TrialRecord> trials() const;  // from storage
  std::optional<TrialRecord> best_trial() const;
  // The best of `trials` (Completed, with a value; of equal values the lowest number), so that a
  // caller can take the best and the trials from one snapshot.
  std::optional<TrialRecord> best_of(const std::vector<TrialRecord>& trials) const;
  StudyProgress progress() const;
  bool cancelled() const;
  // Hands out no more trials (ask() returns nullopt), and a PBT generation no longer waits for
  // members not started: for an executor that cannot start the workers a population needs (the
  // members that started finish without the others, which the next run starts).
  void stop_handing_out();

 private:
  bool better(double a, double b) const;
  // tell(), for an attempt the study stopped because its population left (`lost_attempt`: its
  // last decision was a lost Stop): not stored.
  void tell(TrialRecord trial, bool lost_attempt);
  // Settles a trial that ran (its value, or the exception it ended with) and tells it.
  void conclude(TrialRecord rec, const Trial& trial, const GroupObjective::Result& result);
  Handout try_ask_locked(int worker);  // mutex_ held
  StudyProgress progress_locked() const;
  // Counts and best value from the stored trials (others' trials included); mutex_ held.
  void reload_history();
  void count(const TrialRecord& finished);
  void heartbeat_loop();
  void refresh_local_runs();
  // Stores the report, and keeps it with the running trial (for stoppers and PBT); mutex_ held.
  TrialRecord* record_report_locked(int64_t number, const Report& report);
  // `owner`: the run whose lease the report and decision are checked against ('' for none).
  DecisionRecord stopper_decision_locked(TrialRecord& trial, const Report& report,
                                         const std::string& owner);
  DecisionRecord decide_as(int64_t number, const Report& report, Trainable* trainable,
                           const std::string& owner);
  // decide() for an attempt that cannot end by throwing: a member of a population (a throw would
  // end the others) or a worker's trial the MPI manager answers. Outside PBT, a trial another run
  // has taken back gets a Stop (not stored) instead of LeaseLost: the member leaves while the
  // others train on, the worker is told to stop, and tell() drops the result.
  DecisionRecord decide_or_leave(int64_t number, const Report& report, Trainable* trainable);
  // PBT: a member of this run was taken back; every member here stops; mutex_ held.
  void leave_population_locked();
  // PBT: a member waits at `report.step`; mutex_ held.
  void wait_at_generation_locked(int64_t number, const Report& report);
  // PBT: decides every generation whose members have all arrived (or finished) and moves the
  // decisions to released_; mutex_ held.
  void release_generations_locked();
  Params member_params_locked(const TrialRecord& t) const;

  StudyRecord record_;
  SearchSpace space_;
  std::unique_ptr<Sampler> sampler_;
  std::unique_ptr<Stopper> stopper_;
  std::unique_ptr<Pbt> pbt_;
  std::map<int64_t, TrialRecord> running_trials_;  // their curves so far, for the stopper and PBT
  // PBT: members waiting for their generation's decision (by trial: the step), the decisions
  // released and not yet taken, and (local members) the states offered at the waiting step and
  // the donor state each recipient is to load.
  using State = std::shared_ptr<const std::vector<uint8_t>>;
  std::map<int64_t, int64_t> waiting_;
  // The last step each running member reported in this run. A re-queued member keeps its stored
  // curve (for the ranking and the lineage) but restarts from an earlier generation: only what it
  // reports now tells whether a generation still waits for it.
  std::map<int64_t, int64_t> live_step_;
  std::vector<Released> released_;
  std::map<int64_t, std::pair<int64_t, State>> offered_;
  std::map<int64_t, State> donor_state_;
  std::condition_variable generation_cv_;  // decisions were released
  Storage& storage_;
  mutable std::mutex mutex_;
  std::vector<TrialRecord> history_;  // finished trials (of every run), for samplers and stoppers
  int64_t running_ = 0;               // trials of this run
  int64_t finished_ = 0;
  int64_t failed_ = 0;
  std::optional<double> best_;
  const OptimizeOptions* active_ = nullptr;
  double started_at_ = 0;
  int64_t finished_at_start_ = 0;
  int64_t finished_here_ = 0;
  int64_t failed_here_ = 0;
  std::string first_error_;
  std::vector<int64_t> lost_here_;
  std::vector<int64_t> left_here_;
  // PBT: a member of this run was taken back, so this run's population stops
  // (leave_population_locked): no more trials handed out, no more reports or decisions stored;
  // mutex_.
  bool pbt_left_ = false;
  bool exhausted_ = false;               // a claim found the sampler exhausted; mutex_
  bool stopped_ = false;                 // stop_handing_out(); mutex_
  std::condition_variable trial_ended_;  // a trial of this run ended, or the study is closing
  std::condition_variable closing_cv_;   // the heartbeat's sleep, cut short by the destructor

  RunRecord run_;
  LeaseOptions lease_;
  bool closing_ = false;
  std::atomic<int> local_runs_{1};
  // Whether another run was gone, and when that was looked at: /proc is read at most once a
  // second per run, not at every claim.
  std::map<std::string, std::pair<bool, double>> gone_seen_;
  std::atomic<double> local_runs_at_{0};  // when local_runs_ was last looked up
  std::thread heartbeat_;
};

}  // namespace krill::hpo
