// ASHA, asynchronous successive halving (Li et al., "A System for Massively Parallel
// Hyperparameter Tuning", MLSys 2020, algorithm 2), as a stopping rule: a trial reaching a rung
// goes on only if its value there is in the top 1/eta of the values recorded at that rung so far,
// and the first trials at a rung always go on (no waiting for a full rung). Hyperband (Li et al.,
// "Hyperband: A Novel Bandit-Based Approach to Hyperparameter Optimization", JMLR 2018) runs
// several ASHA brackets, each with a larger minimum resource (section 3.3 of the ASHA paper).
//
// The rung values live in the stopper, and are rebuilt from the study's history when a trial is
// unknown (a fresh stopper on a resumed study): before each decision every trial of the history
// is folded in, in trial-number order, at the rungs its reports reached.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "hpo/stopper.hpp"
#include "hpo/stoppers/number_text.hpp"

namespace krill::hpo {

namespace {

using detail::brief;
using detail::exact;

class Asha final : public Stopper {
 public:
  explicit Asha(AshaOptions options) : options_(options) {
    auto fail = [](const std::string& what) { throw InvalidArgument("asha: " + what); };
    if (options_.min_resource < 1) {
      fail("min_resource must be >= 1 (a step), got " + std::to_string(options_.min_resource));
    }
    if (!(options_.eta > 1) || !std::isfinite(options_.eta)) {
      fail("eta must be a number > 1, got " + exact(options_.eta));
    }
    if (options_.brackets < 1) {
      fail("brackets must be >= 1, got " + std::to_string(options_.brackets));
    }
    if (options_.max_resource != 0 && options_.max_resource < options_.min_resource) {
      fail("max_resource must be 0 (no last rung) or >= min_resource " +
           std::to_string(options_.min_resource) + ", got " +
           std::to_string(options_.max_resource));
    }
    brackets_.resize(static_cast<size_t>(options_.brackets));
  }

  StopDecision decide(const StudyView& study, const TrialRecord& trial,
                      const Report& report) override {
    std::lock_guard lock(mutex_);
    const bool maximize = study.direction == Direction::Maximize;

    std::vector<const TrialRecord*> history;
    for (const auto* list : {&study.finished, &study.running}) {
      for (const TrialRecord& t : *list) {
        if (t.number != trial.number) history.push_back(&t);
      }
    }
    std::stable_sort(history.begin(), history.end(),
                     [](const auto* a, const auto* b) { return a->number < b->number; });
    for (const TrialRecord* t : history) fold(t->number, t->reports, t->reports.size());

    // The reports before `report` (its newest, normally the last of trial.reports).
    size_t prior = trial.reports.size();
    if (prior > 0 && trial.reports.back().step == report.step) --prior;
    fold(trial.number, trial.reports, prior);
    int64_t prior_max = -1;
    for (size_t i = 0; i < prior; ++i) prior_max = std::max(prior_max, trial.reports[i].step);

    Bracket& bracket = brackets_[bracket_of(trial.number)];
    extend_rungs(bracket, bracket_of(trial.number), report.step);
    seen_[trial.number] = std::max(seen_[trial.number], prior + 1);
    std::optional<StopDecision> passed;
    for (size_t k = 0; k < bracket.rungs.size(); ++k) {
      const int64_t rung = bracket.rungs[k];
      if (rung > report.step || rung <= prior_max) continue;  // not reached now, or before
      auto& values = bracket.values[k];
      values.try_emplace(trial.number, report.value);
      StopDecision d = judge(values, values.at(trial.number), maximize, trial.number, k, rung);
      if (d.stop) return d;
      passed = std::move(d);
    }
    if (passed) return *passed;
    if (options_.max_resource > 0 && report.step >= options_.max_resource) {
      return {false,
              "asha: past the last rung (max_resource " + std::to_string(options_.max_resource) +
                  "): continue",
              std::nullopt};
    }
    return {false, "asha: between rungs", std::nullopt};
  }

  std::string describe() const override {
    return "asha(min_resource=" + std::to_string(options_.min_resource) +
           ", max_resource=" + std::to_string(options_.max_resource) +
           ", eta=" + exact(options_.eta) + ", brackets=" + std::to_string(options_.brackets) + ")";
  }

 private:
  struct Bracket {
    std::vector<int64_t> rungs;  // the decision rungs' steps, increasing, extended on demand
    size_t next_power = 0;       // the k of the next candidate rung
    bool complete = false;       // no rung after the last one (max_resource or int64 reached)
    // values[k]: trial number -> its value at rung k (a trial recorded once per rung).
    std::vector<std::map<int64_t, double>> values;
  };

  size_t bracket_of(int64_t number) const {
    const int64_t b = options_.brackets;
    return static_cast<size_t>(((number % b) + b) % b);
  }

  // Rung k of bracket b is at min_resource * eta^(b + k), rounded; a rung that rounds onto the one
  // before is skipped. max_resource > 0 is the final rung: it ends nothing, so it decides nothing.
  void extend_rungs(Bracket& bracket, size_t b, int64_t up_to) const {
    while (!bracket.complete && (bracket.rungs.empty() || bracket.rungs.back() < up_to)) {
      const double next = static_cast<double>(options_.min_resource) *
                          std::pow(options_.eta, static_cast<double>(b + bracket.next_power++));
      const bool past_int64 = !(next < 9e18);
      if (past_int64 ||
          (options_.max_resource > 0 && std::llround(next) >= options_.max_resource)) {
        bracket.complete = true;
      } else if (bracket.rungs.empty() || std::llround(next) > bracket.rungs.back()) {
        bracket.rungs.push_back(std::llround(next));
        bracket.values.emplace_back();
      }
    }
  }

  // Records trial `number` at the rungs that reports [seen, end) reached first.
  void fold(int64_t number, const std::vector<Report>& reports, size_t end) {
    size_t& seen = seen_[number];
    if (seen >= end) return;
    const size_t b = bracket_of(number);
    Bracket& bracket = brackets_[b];
    for (size_t i = seen; i < end; ++i) {
      extend_rungs(bracket, b, reports[i].step);
      for (size_t k = 0; k < bracket.rungs.size() && bracket.rungs[k] <= reports[i].step; ++k) {
        bracket.values[k].try_emplace(number, reports[i].value);
      }
    }
    seen = end;
  }

  // The promotion rule of ASHA (algorithm 2, get_job) as a decision: go on iff the value ranks in
  // the top max(1, floor(n / eta)) of the n values at the rung. Rank = 1 + the number of strictly
  // better values (ties share a rank; NaN is worse than any number).
  StopDecision judge(const std::map<int64_t, double>& values, double value, bool maximize,
                     int64_t number, size_t k, int64_t rung) const {
    auto better = [maximize](double a, double b) {
      if (std::isnan(a)) return false;
      if (std::isnan(b)) return true;
      return maximize ? a > b : a < b;
    };
    size_t rank = 1;
    for (const auto& [other, v] : values) {
      if (other != number && better(v, value)) ++rank;
    }
    const size_t n = values.size();
    const auto keep = std::max<size_t>(
        1, static_cast<size_t>(std::floor(static_cast<double>(n) / options_.eta + 1e-9)));
    const bool stop = rank > keep;
    std::string where = "rung " + std::to_string(k) + " (step " + std::to_string(rung) + ")";
    if (options_.brackets > 1)
      where = "bracket " + std::to_string(bracket_of(number)) + ", " + where;
    return {stop,
            "asha: " + where + ": value " + brief(value) + " ranks " + std::to_string(rank) +
                " of " + std::to_string(n) + ", top " + std::to_string(keep) +
                " go on: " + (stop ? "stop" : "continue"),
            std::nullopt};
  }

  AshaOptions options_;
  std::mutex mutex_;
  std::vector<Bracket> brackets_;
  std::map<int64_t, size_t> seen_;  // trial number -> how many of its reports are folded in
};

}  // namespace

std::unique_ptr<Stopper> make_asha(AshaOptions options) {
  return std::make_unique<Asha>(options);
}

}  // namespace krill::hpo
