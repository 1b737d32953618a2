// Study: a search over a SearchSpace, persisted in a Storage. Opening a study that exists resumes
// it: its finished trials are kept, trials that were running when a previous process died are
// run again (same number, same parameters), and a changed space, sampler or configuration is
// refused with an error that says what changed.
//
// ask()/tell() are thread-safe; optimize() runs trials until the study holds its budget of
// finished trials, on the executor given (serially by default; exec::LocalExecutor runs them on
// threads). An objective that throws makes a Failed trial, one that returns NaN/Inf or throws
// hpo::Diverged a Diverged one; the study goes on.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
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

struct StudyProgress {
  int64_t finished = 0;  // all final states
  int64_t failed = 0;    // Failed + Diverged
  int64_t running = 0;
  int64_t total = 0;
  std::optional<double> best;
  double elapsed = 0;  // seconds in this optimize() call
  double eta = 0;      // seconds, estimated from this call's pace
};

class Study;

// Runs a study's trials; the scheduler (Study) decides, the executor acts.
class Executor {
 public:
  virtual ~Executor() = default;
  virtual void run(Study& study, const Objective& objective) = 0;
};

struct OptimizeOptions {
  Executor* executor = nullptr;  // nullptr: one trial at a time on the calling thread
  std::function<void(const StudyProgress&)> on_progress;  // after each finished trial
  const std::atomic<bool>* cancel = nullptr;              // set to stop handing out trials (Ctrl-C)
};

class Study {
 public:
  // Creates `record.name` in `storage`, or resumes it (see above). Throws InvalidArgument.
  // `stopper` (optional) decides at each report whether a trial goes on; its describe() text is
  // part of the study's settings.
  Study(StudyRecord record, SearchSpace space, std::unique_ptr<Sampler> sampler, Storage& storage,
        std::unique_ptr<Stopper> stopper = nullptr);

  // The next trial to run, recorded as Running; nullopt when the budget is reached (counting the
  // trials running now) or the sampler is exhausted or optimize() was cancelled.
  std::optional<TrialRecord> ask(int worker = -1);
  // Final result of a trial from ask(): state, value, error, attrs.
  void tell(TrialRecord trial);
  // Persists a learning-curve point of a running trial; with a stopper, asks it and stores its
  // decision. Returns false when the trial should stop.
  bool report(int64_t number, const Report& report);

  // Runs one trial from ask() through `objective`, and tells the result.
  void run_trial(TrialRecord trial, const Objective& objective, int threads = 1);
  void optimize(const Objective& objective, const OptimizeOptions& options = {});

  const StudyRecord& record() const { return record_; }
  const SearchSpace& space() const { return space_; }
  std::vector<TrialRecord> trials() const;  // from storage
  std::optional<TrialRecord> best_trial() const;
  StudyProgress progress() const;
  bool cancelled() const;

 private:
  bool better(double a, double b) const;
  StudyProgress progress_locked() const;

  StudyRecord record_;
  SearchSpace space_;
  std::unique_ptr<Sampler> sampler_;
  std::unique_ptr<Stopper> stopper_;
  std::map<int64_t, TrialRecord> running_trials_;  // their curves so far, for the stopper
  Storage& storage_;
  mutable std::mutex mutex_;
  std::vector<int64_t> requeue_;      // interrupted trial numbers to run again
  std::vector<TrialRecord> history_;  // finished trials, for samplers that learn from them
  int64_t next_number_ = 0;
  int64_t running_ = 0;
  int64_t finished_ = 0;
  int64_t failed_ = 0;
  std::optional<double> best_;
  bool exhausted_ = false;
  const OptimizeOptions* active_ = nullptr;
  double started_at_ = 0;
  int64_t finished_at_start_ = 0;
};

}  // namespace krill::hpo
