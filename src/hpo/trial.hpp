// Trials: one sample of every hyperparameter and what became of it. TrialRecord is the stored
// data; Trial is the handle an objective function receives (its parameters, and report() for the
// learning curve).
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "hpo/param.hpp"
#include "hpo/trainable.hpp"

namespace krill::hpo {

enum class TrialState { Running, Completed, Stopped, Failed, Diverged };
std::string to_string(TrialState s);
TrialState parse_trial_state(const std::string& s);  // throws InvalidArgument
inline bool is_finished(TrialState s) {
  return s != TrialState::Running;
}

struct Report {
  Report() = default;
  Report(int64_t step, double value, std::map<std::string, double> metrics = {})
      : step(step), value(value), metrics(std::move(metrics)) {}

  int64_t step = 0;
  double value = 0;                       // the objective's metric at this step
  std::map<std::string, double> metrics;  // other series at this step: "lr", "train_loss"...
  bool last = false;  // the trial's final report (PBT does not exploit there); not stored
};

// What the study decided at a step of a trial, and why: one type from the stopping rule or PBT
// through the trial, the executors and the MPI protocol (../shared/docs/DESIGN.md, "Decisions").
//  - Continue: train on;
//  - Stop: an early-stopping rule ends the trial (`prediction`: its predicted final value);
//  - Exploit: PBT replaces the trial's state (weights, optimizer state, progress) with trial
//    `donor`'s at step `donor_step`, and its hyperparameters with `params` (the donor's,
//    perturbed), from the next step on.
enum class Action { Continue, Stop, Exploit };
std::string to_string(Action a);            // "continue", "stop", "exploit"
Action parse_action(const std::string& s);  // throws InvalidArgument

struct DecisionRecord {
  int64_t step = 0;
  Action action = Action::Continue;
  std::string reason;
  std::optional<double> prediction;
  int64_t donor = -1;       // Exploit: the trial copied
  int64_t donor_step = -1;  // Exploit: the step of the donor's state
  Params params;            // Exploit: the recipient's hyperparameters from now on
  // Stop: another run took the trial back (this one was taken for gone). The attempt ends, and
  // nothing of it is kept: not stored, and a PBT member leaves its saved states (now the other
  // attempt's) alone. Not stored, not sent to an MPI worker.
  bool lost = false;
  bool stops() const { return action == Action::Stop; }
};

struct TrialRecord {
  int64_t number = 0;  // 0, 1, 2... within the study; the sampler's index
  Params params;
  TrialState state = TrialState::Running;
  std::vector<Report> reports;            // the learning curve
  std::vector<DecisionRecord> decisions;  // early-stopping decisions, by step
  std::optional<double> value;            // the objective, for Completed/Stopped trials
  std::string error;                      // why it failed or diverged
  std::map<std::string, double> attrs;    // extra results (e.g. test_accuracy, iterations)
  double started = 0;                     // seconds since the epoch
  double finished = 0;
  int worker = -1;
  std::string owner;     // the run holding (or that last held) the trial's lease; "": none
  int64_t requeues = 0;  // times the trial was taken back from a gone run and run again
};

// What an objective did with its trial, wherever it ran (a thread here, an MPI rank).
enum class Outcome {
  Returned,  // returned a value
  Threw,     // threw an exception: `error` says what
  Diverged,  // threw hpo::Diverged: `error` says where
};

// The compute a finished trial took: its wall time (finished - started; 0 when unknown), divided
// by its attribute `population` where it trained together with others (P members in one pass of
// batched kernels, each charged 1/P: each was charged the whole pass, 4x the work for 4 members).
// `population` is the size the pass started with: where members leave early (stopped, diverged),
// the last ones' share grows and this charges them too little.
double compute_seconds(const TrialRecord& trial);

// Makes `outcome` the trial's final state, the one rule for every executor: a finite value is
// Completed, or Stopped when an early-stopping rule ended the trial; NaN/Inf is Diverged ("the
// objective returned nan"); Diverged is Diverged and any other exception Failed, with `error`.
void settle(TrialRecord& trial, Outcome outcome, double value, const std::string& error,
            bool stopped);

// Where a trial's reports go (the study, or an MPI worker's link to the manager) and what it
// decided: when the trial has a Trainable (attach()), the host may save it (a PBT member's state
// for its peers) and, for an Exploit, has loaded the donor's state into it and set the new
// hyperparameters before it returns.
using ReportHost = std::function<DecisionRecord(const Report&, Trainable*)>;

// The objective's view of its trial.
class Trial {
 public:
  // `on_report` persists a report and returns false when the trial should stop (tests, simple
  // executors); the host form returns the whole decision.
  Trial(int64_t number, Params params, std::function<bool(const Report&)> on_report);
  Trial(int64_t number, Params params, ReportHost host);
  Trial(int64_t number, Params params) : Trial(number, std::move(params), ReportHost{}) {}

  int64_t number() const { return number_; }
  const Params& params() const { return params_; }
  // Typed access; throws InvalidArgument naming the parameter when it is missing or of another
  // type (an integer is accepted where a float is asked).
  double float_param(const std::string& name) const;
  int64_t int_param(const std::string& name) const;
  std::string string_param(const std::string& name) const;
  bool has(const std::string& name) const { return params_.contains(name); }

  // Records one point of the learning curve (and other per-step metrics such as the learning
  // rate); returns false when the trial should stop. `last`: the objective's final report.
  bool report(int64_t step, double value, std::map<std::string, double> metrics = {},
              bool last = false);
  bool should_stop() const { return stop_; }
  // The decision on the latest report (Continue before any).
  const DecisionRecord& last_decision() const { return last_; }
  // The objective's model, for PBT (hpo/trainable.hpp); nullptr: none (the trial cannot be
  // exploited, and a PBT study fails it). The Trainable must outlive the reports.
  void attach(Trainable* trainable) { trainable_ = trainable; }
  Trainable* trainable() const { return trainable_; }
  // Resources given by the executor: the worker running the trial and the threads it may use
  // now. The share of the cores may change while the trial runs (another process joins the
  // study on this host, or leaves it): a long objective asks again from time to time.
  int worker() const { return worker_; }
  int threads() const { return thread_budget_ ? std::max(1, thread_budget_()) : threads_; }
  void set_resources(int worker, int threads) {
    worker_ = worker;
    threads_ = threads;
    thread_budget_ = nullptr;
  }
  void set_resources(int worker, std::function<int()> thread_budget) {
    worker_ = worker;
    thread_budget_ = std::move(thread_budget);
  }
  void set_attr(const std::string& key, double value) { attrs_[key] = value; }
  const std::map<std::string, double>& attrs() const { return attrs_; }

 private:
  int64_t number_;
  Params params_;
  ReportHost host_;
  std::map<std::string, double> attrs_;
  bool stop_ = false;
  DecisionRecord last_;
  Trainable* trainable_ = nullptr;
  int worker_ = 0;
  int threads_ = 1;
  std::function<int()> thread_budget_;
};

}  // namespace krill::hpo
