// Learning Curve Matching, as the poster describes it (../shared/docs/DESIGN.md): an accumulation
// stage of N complete trials, then at each checkpoint the running curve's prefix is matched
// against the same prefix of every complete curve (Euclidean distance); the final value of the
// nearest complete curve (the mean of the k nearest; k = 1 is the poster's rule) is the
// prediction, and its rank among the completed trials' final values decides the stop. The curves
// matched are the objective's by default; `curve` names a per-step metric instead (the poster's
// curves are values of the loss, its prediction the final objective).
#include "hpo/stoppers/lcm.hpp"

#include "hpo/stoppers/number_text.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/error.hpp"

namespace krill::hpo {

namespace {

using detail::brief;
using detail::exact;

constexpr const char* kObjective = "objective";

// The point a report gives the curve named `name`: its value for the objective, else the metric
// of that name; none when the report does not carry it.
std::optional<double> point_of(const Report& r, const std::string& name) {
  if (name == kObjective) return r.value;
  const auto it = r.metrics.find(name);
  if (it == r.metrics.end()) return std::nullopt;
  return it->second;
}

// A curve as step -> value, of the steps whose reports carry it. If a step was reported twice,
// the later report wins (it is the value the trial ended up with at that step).
std::map<int64_t, double> curve_of(const std::vector<Report>& reports, const std::string& name) {
  std::map<int64_t, double> curve;
  for (const Report& r : reports) {
    if (const auto v = point_of(r, name)) {
      curve[r.step] = *v;
    } else {
      curve.erase(r.step);
    }
  }
  return curve;
}

struct Completed {
  int64_t number;
  double final_value;
  const TrialRecord* record;
};

struct Match {
  double distance;
  int64_t number;
  double final_value;
};

}  // namespace

LearningCurveMatching::LearningCurveMatching(LcmOptions options) : options_(std::move(options)) {
  if (options_.accumulate < 1) {
    throw InvalidArgument("lcm: accumulate must be at least 1 (got " +
                          std::to_string(options_.accumulate) +
                          "): the rule needs complete curves to match against");
  }
  if (!(options_.percentile >= 0 && options_.percentile <= 100)) {  // also refuses NaN
    throw InvalidArgument("lcm: percentile must be in [0, 100] (got " + exact(options_.percentile) +
                          ")");
  }
  if (options_.k < 1) {
    throw InvalidArgument("lcm: k (nearest curves averaged) must be at least 1 (got " +
                          std::to_string(options_.k) + ")");
  }
  if (options_.curve.empty()) {
    throw InvalidArgument(
        "lcm: curve must be \"objective\" or the name of a reported metric "
        "(got an empty name)");
  }
  for (size_t i = 0; i < options_.checkpoints.size(); ++i) {
    const int64_t c = options_.checkpoints[i];
    if (c <= 0) {
      throw InvalidArgument("lcm: checkpoints must be positive steps (got " + std::to_string(c) +
                            " at position " + std::to_string(i) + ")");
    }
    if (i > 0 && c <= options_.checkpoints[i - 1]) {
      throw InvalidArgument("lcm: checkpoints must be strictly increasing (got " +
                            std::to_string(options_.checkpoints[i - 1]) + " then " +
                            std::to_string(c) + ")");
    }
  }
}

std::string LearningCurveMatching::describe() const {
  std::string checkpoints;
  for (const int64_t c : options_.checkpoints) {
    if (!checkpoints.empty()) checkpoints += ',';
    checkpoints += std::to_string(c);
  }
  return "lcm(accumulate=" + std::to_string(options_.accumulate) +
         ", percentile=" + exact(options_.percentile) + ", k=" + std::to_string(options_.k) +
         ", normalize=" + (options_.normalize ? "true" : "false") + ", checkpoints=[" +
         checkpoints + "]" +
         // Only when not the default, so that studies made before the option resume.
         (options_.curve == kObjective ? "" : ", curve=" + options_.curve) + ")";
}

StopDecision LearningCurveMatching::decide(const StudyView& study, const TrialRecord& trial,
                                           const Report& report) {
  StopDecision decision;

  // The store: trials that ran to completion with a final value. Their final performance is the
  // objective's value (in krill, the last point of the curve). Stopped trials never join it: their
  // final value is not what their configuration would have reached.
  std::vector<Completed> completed;
  for (const TrialRecord& t : study.finished) {
    if (t.state == TrialState::Completed && t.value) {
      completed.push_back({t.number, *t.value, &t});
    }
  }
  const int n_completed = static_cast<int>(completed.size());

  // Accumulation stage: the first N trials run to completion, nothing stops.
  if (n_completed < options_.accumulate) {
    decision.reason = "lcm: accumulating (" + std::to_string(n_completed) + " of " +
                      std::to_string(options_.accumulate) + " complete trials)";
    return decision;
  }

  // Checking stage, only at checkpoints (every report when none are given).
  if (!options_.checkpoints.empty() &&
      !std::binary_search(options_.checkpoints.begin(), options_.checkpoints.end(), report.step)) {
    decision.reason = "lcm: not a checkpoint";
    return decision;
  }

  // The running curve's prefix: its values at the reported steps up to this one. `report` is
  // normally the last of trial.reports; it is added in case the caller passed it separately. A
  // report that does not carry the curve (a metric curve) is not judged.
  const std::string& name = options_.curve;
  const std::optional<double> now = point_of(report, name);
  if (!now) {
    decision.reason = "lcm: no " + name + " at step " + std::to_string(report.step) +
                      " of this trial, nothing to match";
    return decision;
  }
  std::map<int64_t, double> prefix;
  for (const Report& r : trial.reports) {
    if (r.step > report.step) continue;
    if (const auto v = point_of(r, name)) {
      prefix[r.step] = *v;
    } else {
      prefix.erase(r.step);
    }
  }
  prefix[report.step] = *now;
  const double scale = options_.normalize ? std::sqrt(static_cast<double>(prefix.size())) : 1.0;

  // Match the same prefix of every complete curve. A curve that lacks one of the prefix's steps
  // cannot be compared point by point and is skipped (it still counts in the rank below).
  std::vector<Match> matches;
  for (const Completed& c : completed) {
    const std::map<int64_t, double> curve = curve_of(c.record->reports, name);
    double sum = 0;
    bool matched = true;
    for (const auto& [step, value] : prefix) {
      const auto it = curve.find(step);
      if (it == curve.end()) {
        matched = false;
        break;
      }
      const double d = value - it->second;
      sum += d * d;
    }
    const double distance = std::sqrt(sum) / scale;
    // A NaN distance (a NaN point in a curve) has no order; such a curve cannot be matched either.
    if (matched && !std::isnan(distance)) matches.push_back({distance, c.number, c.final_value});
  }
  if (matches.empty()) {
    decision.reason = "lcm: no complete " + std::string(name == kObjective ? "" : name + " ") +
                      "curve can be matched (none of the " + std::to_string(n_completed) +
                      " has all " + std::to_string(prefix.size()) +
                      " steps of this prefix, up to step " + std::to_string(report.step) + ")";
    return decision;
  }

  // The k nearest; equal distances go to the lower trial number, so the decision does not depend
  // on the order of study.finished.
  std::sort(matches.begin(), matches.end(), [](const Match& a, const Match& b) {
    return a.distance != b.distance ? a.distance < b.distance : a.number < b.number;
  });
  const size_t k = std::min(static_cast<size_t>(options_.k), matches.size());
  double sum = 0;
  for (size_t i = 0; i < k; ++i) sum += matches[i].final_value;
  const double prediction = sum / static_cast<double>(k);
  decision.prediction = prediction;

  // Rank of the prediction among the completed trials' final values, as a percentage from the
  // best (0%) to the worst: the share of completed trials strictly better than the prediction,
  //   rank = 100 * #better / #completed,   stop when rank > percentile.
  // Example (maximize), finals {0.9, 0.8, 0.7, 0.6, 0.5}: a prediction of 0.6 has 3 strictly
  // better -> rank 60% > 50%: stop; a prediction of 0.8 has 1 -> 20%: continue. Percentile 100
  // never stops (rank < 100: the prediction is never worse than every final value, since it is a
  // mean of some of them); percentile 0 stops every trial not predicted to tie the best.
  const bool maximize = study.direction == Direction::Maximize;
  int better = 0;
  for (const Completed& c : completed) {
    if (maximize ? c.final_value > prediction : c.final_value < prediction) ++better;
  }
  const double rank = 100.0 * better / n_completed;
  decision.stop = rank > options_.percentile;

  const Match& nearest = matches.front();
  std::string reason = "lcm: nearest trial " + std::to_string(nearest.number) + " (" +
                       (name == kObjective ? "" : name + " ") + "distance " +
                       brief(nearest.distance) + ")";
  if (k > 1) reason += ", mean of " + std::to_string(k) + " nearest,";
  reason += " predicts " + brief(prediction) + ", rank " + brief(rank) + "% " +
            (decision.stop ? "> " : "<= ") + brief(options_.percentile) +
            "%: " + (decision.stop ? "stop" : "continue");
  decision.reason = std::move(reason);
  return decision;
}

std::unique_ptr<Stopper> make_lcm(LcmOptions options) {
  return std::make_unique<LearningCurveMatching>(std::move(options));
}

}  // namespace krill::hpo
