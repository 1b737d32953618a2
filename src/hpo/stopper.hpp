// Early stopping: a Stopper sees the study's history and a running trial's new report and returns
// a decision — Continue or Stop, with the reason and any prediction. It decides; the executor
// acts (the trial's report() returns false and the objective stops training). Every decision is
// stored with the trial, so a report can show why a trial stopped.
//
// Stoppers here: LearningCurveMatching (the poster's LCM), MedianStopping (Google Vizier's median
// rule) and Asha (asynchronous successive halving; Hyperband runs several ASHA brackets).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hpo/storage.hpp"
#include "hpo/trial.hpp"

namespace krill::hpo {

struct StopDecision {
  bool stop = false;
  std::string reason;                // "lcm: predicted 0.71, rank 83% > 50%", "median: ..."
  std::optional<double> prediction;  // a predicted final value, when the rule makes one
};

// What a stopper may look at: the study's direction and its finished trials (with their curves).
// `running` holds the reports so far of every trial still running (ASHA compares trials that
// reached a rung, finished or not).
struct StudyView {
  Direction direction = Direction::Maximize;
  const std::vector<TrialRecord>& finished;
  const std::vector<TrialRecord>& running;
};

class Stopper {
 public:
  virtual ~Stopper() = default;
  // `trial` is the running trial with its reports so far, `report` (its newest) included.
  virtual StopDecision decide(const StudyView& study, const TrialRecord& trial,
                              const Report& report) = 0;
  // Canonical text of the rule and its options, stored with the study (a resumed study must use
  // the same rule).
  virtual std::string describe() const = 0;
};

// Learning Curve Matching (the poster; ../shared/docs/DESIGN.md):
//  - the curve is the objective at the reported steps ("cumulative points");
//  - accumulation stage: until `accumulate` trials have completed, nothing stops;
//  - checking stage, at each checkpoint step: the Euclidean distance between the running curve's
//    prefix (its values at the steps up to this one) and the same prefix of every completed
//    curve; the mean final value of the `k` nearest completed curves is the prediction; its rank
//    among the completed trials' final values, as a percentage from the best (0%) to the worst
//    (100%), decides: the trial stops when the rank is worse than `percentile`.
struct LcmOptions {
  int accumulate = 10;               // N complete trials before any decision
  std::vector<int64_t> checkpoints;  // steps where decisions are made; empty: every report
  double percentile = 50;            // stop when the predicted rank is worse than this (0..100)
  int k = 1;                         // nearest curves averaged (1: the poster's rule)
  bool normalize = false;            // distance divided by sqrt(prefix length) (RMS), else raw
  // The curves matched: "objective" (the reports' values) or the name of a per-step metric of the
  // reports, e.g. "val_loss" (the poster matches loss curves and predicts the final objective).
  // With a metric, the prefix is the running trial's steps up to this one that carry it; a report
  // without it is not judged (continue), and a complete curve lacking it at a prefix step is not
  // matched (it still counts in the rank). The prediction is always the nearest curves' final
  // objective value, ranked as above.
  std::string curve = "objective";
};

// Median stopping (Golovin et al., "Google Vizier", 2017): at step s, a trial stops when its best
// value so far is worse than the median, over completed trials, of their running averages up to
// s. Applies from `min_trials` completed trials on, and not before step `grace`.
struct MedianOptions {
  int min_trials = 5;
  int64_t grace = 0;
};

// ASHA (Li et al., "A System for Massively Parallel Hyperparameter Tuning", 2020): rungs at steps
// min_resource * eta^k (k = 0, 1, ...) up to max_resource; a trial reaching a rung goes on only if
// its value there is in the top 1/eta of the values recorded at that rung so far (by any trial,
// finished or running); the first trials at a rung always go on (no waiting for a full rung).
// Hyperband runs `brackets` ASHA instances, trial n in bracket n % brackets, bracket b with
// min_resource * eta^b.
struct AshaOptions {
  int64_t min_resource = 100;  // steps
  int64_t max_resource = 0;    // 0: no last rung
  double eta = 3;
  int brackets = 1;  // > 1: Hyperband over ASHA brackets
};

std::unique_ptr<Stopper> make_lcm(LcmOptions options);
std::unique_ptr<Stopper> make_median(MedianOptions options);
std::unique_ptr<Stopper> make_asha(AshaOptions options);

}  // namespace krill::hpo
