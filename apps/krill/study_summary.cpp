#include "study_summary.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "core/error.hpp"
#include "hpo/search_space.hpp"
#include "report/pbt_lineage.hpp"
#include "report/text_chart.hpp"

namespace krill::cli {

namespace {
// Parameters for reading (4 significant digits); exports keep the exact values.
// `names`: only these (all when empty).
std::string short_params(const hpo::Params& params, const std::vector<std::string>& names = {}) {
  return report::params_text(params, names);
}
// " (absent: momentum, nesterov)": the dimensions of a conditional space that a trial does not
// have (their conditions were false); empty when it has them all.
std::string absent_text(const hpo::Params& params, const std::optional<hpo::SearchSpace>& space) {
  if (!space || !space->conditional()) return "";
  std::string names;
  for (const auto& [name, dim] : space->dimensions()) {
    if (!params.contains(name)) names += (names.empty() ? "" : ", ") + name;
  }
  return names.empty() ? "" : " (absent: " + names + ")";
}

std::optional<hpo::SearchSpace> space_of(const hpo::StudyRecord& study) {
  try {
    return hpo::SearchSpace::from_fingerprint(study.space);
  } catch (const Error&) {
    return std::nullopt;  // a database written by hand: shown without the absent ones
  }
}

}  // namespace

std::string reason_of(const hpo::TrialRecord& t) {
  switch (t.state) {
    case hpo::TrialState::Failed:
    case hpo::TrialState::Diverged:
      return t.error.empty() ? "(no message)" : t.error;
    case hpo::TrialState::Stopped:
      for (auto d = t.decisions.rbegin(); d != t.decisions.rend(); ++d) {
        if (d->stops()) return fmt::format("step {}: {}", d->step, d->reason);
      }
      return "(stopped; no decision stored)";
    default:
      return "";
  }
}

std::string exploits_text(const hpo::TrialRecord& t) {
  std::string out;
  for (const auto* d : report::exploits_of(t)) {
    out += fmt::format("{}step {}: copied trial {} at step {}", out.empty() ? "" : "; ", d->step,
                       d->donor, d->donor_step);
    const std::string changed =
        short_params(d->params, report::changing_params(report::member_schedule(t)));
    if (!changed.empty()) out += ", now " + changed;
  }
  return out;
}

std::string schedule_text(const hpo::TrialRecord& t) {
  const auto schedule = report::member_schedule(t);
  const auto names = report::changing_params(schedule);
  std::string out;
  for (const auto& s : schedule) {
    out +=
        fmt::format("{}{}-{} {} ({})", out.empty() ? "steps " : "; ", s.from, s.to,
                    short_params(s.params, names),
                    s.donor < 0 ? std::string("sampled")
                                : fmt::format("copied trial {} at step {}", s.donor, s.donor_step));
  }
  return out;
}

std::string weights_path_text(const std::vector<hpo::TrialRecord>& trials, int64_t number) {
  const auto path = report::weights_path(trials, number);
  std::vector<report::ScheduleSegment> segments;
  for (const auto& p : path) segments.push_back({.from = p.from, .to = p.to, .params = p.params});
  const auto names = report::changing_params(segments);
  std::string out;
  for (const auto& p : path) {
    out += fmt::format("{}{}-{} {} (trial {}{})", out.empty() ? "steps " : "; ", p.from, p.to,
                       short_params(p.params, names), p.trial,
                       p.copied_from < 0
                           ? std::string()
                           : fmt::format(", copied trial {} at step {}", p.copied_from, p.from));
  }
  return out;
}

void print_study_summary(const hpo::StudyRecord& study, const std::vector<hpo::TrialRecord>& trials,
                         int top, bool all) {
  const std::optional<hpo::SearchSpace> space = space_of(study);
  std::map<hpo::TrialState, int> counts;
  double compute = 0;
  for (const auto& t : trials) {
    ++counts[t.state];
    compute += hpo::compute_seconds(t);
  }
  const auto held = static_cast<int64_t>(trials.size());
  fmt::print("study '{}': {} ({} {})\n", study.name,
             held > study.n_trials
                 ? fmt::format("{} trials, more than its budget of {}", held, study.n_trials)
                 : fmt::format("{} trials of {}", held, study.n_trials),
             study.objective, hpo::to_string(study.direction));
  std::string states;
  for (auto s : {hpo::TrialState::Completed, hpo::TrialState::Stopped, hpo::TrialState::Failed,
                 hpo::TrialState::Diverged, hpo::TrialState::Running}) {
    if (counts[s]) states += fmt::format("  {} {}", counts[s], hpo::to_string(s));
  }
  int64_t requeues = 0;
  for (const auto& t : trials) requeues += t.requeues;
  fmt::print("states:{}   compute {:.1f} s{}\n", states.empty() ? " none" : states, compute,
             requeues ? fmt::format("   re-queued {} times", requeues) : "");
  const size_t exploits = report::count_exploits(trials);
  if (exploits > 0) {
    std::set<int64_t> replaced;
    for (const auto& t : trials) {
      if (!report::exploits_of(t).empty()) replaced.insert(t.number);
    }
    fmt::print(
        "PBT: {} exploit{} (a member copied a better one's state and perturbed its "
        "hyperparameters), {} of {} members replaced at least once\n",
        exploits, exploits == 1 ? "" : "s", replaced.size(), trials.size());
  }

  if (all) {
    fmt::print("\n{:>6}  {:<9}  {:>10}  {:>7}  {}\n", "trial", "state", study.objective, "seconds",
               exploits > 0 ? "parameters (sampled); PBT exploits; why it stopped or failed"
                            : "parameters; why it stopped or failed");
    for (const auto& t : trials) {
      const std::string why = reason_of(t);
      const std::string exploits = exploits_text(t);
      fmt::print("{:>6}  {:<9}  {:>10}  {:>7.1f}  {}{}{}\n", t.number, hpo::to_string(t.state),
                 t.value ? fmt::format("{:.4f}", *t.value) : "-",
                 t.finished > t.started ? t.finished - t.started : 0.0,
                 short_params(t.params) + absent_text(t.params, space),
                 exploits.empty() ? "" : "; PBT: " + exploits, why.empty() ? "" : "; " + why);
    }
  } else {
    // Why trials stopped or failed: the first few, each once (krill show --all lists all).
    constexpr int kReasons = 3;
    int shown = 0, more = 0;
    for (const auto& t : trials) {
      const std::string why = reason_of(t);
      if (why.empty()) continue;
      if (shown++ < kReasons) {
        fmt::print("  trial {} {}: {}\n", t.number, hpo::to_string(t.state), why);
      } else {
        ++more;
      }
    }
    if (more > 0) fmt::print("  ... and {} more (krill show --all)\n", more);
  }

  std::vector<const hpo::TrialRecord*> done;
  for (const auto& t : trials) {
    if (t.state == hpo::TrialState::Completed && t.value) done.push_back(&t);
  }
  if (done.empty()) {
    fmt::print("no completed trial yet\n");
    return;
  }
  const bool maximize = study.direction == hpo::Direction::Maximize;
  std::stable_sort(done.begin(), done.end(), [&](auto* a, auto* b) {
    return maximize ? *a->value > *b->value : *a->value < *b->value;
  });
  // A PBT member's hyperparameters changed at its exploits: the table shows those it ended with.
  fmt::print("\n{:>6}  {:>10}  {:>9}  {:>7}  {}\n", "trial", study.objective, "test_acc", "seconds",
             exploits > 0 ? "final parameters" : "parameters");
  for (size_t i = 0; i < done.size() && i < static_cast<size_t>(top); ++i) {
    const auto& t = *done[i];
    auto test = t.attrs.find("test_accuracy");
    fmt::print("{:>6}  {:>10.4f}  {:>9}  {:>7.1f}  {}\n", t.number, *t.value,
               test == t.attrs.end() ? "-" : fmt::format("{:.4f}", test->second),
               t.finished - t.started,
               short_params(report::final_params(t)) + absent_text(t.params, space));
  }
  fmt::print("\n{}", report::best_so_far_chart(trials, study.direction));
  const auto& best = *done.front();
  fmt::print("\nbest trial {}: {} = {:.4f}", best.number, study.objective, *best.value);
  if (auto test = best.attrs.find("test_accuracy"); test != best.attrs.end()) {
    fmt::print(", test accuracy {:.4f}", test->second);
  }
  const auto best_exploits = report::exploits_of(best);
  if (exploits > 0) {
    fmt::print("\nbest weights' schedule (the members that trained them): {}",
               weights_path_text(trials, best.number));
  }
  if (best_exploits.empty()) {
    fmt::print("\nbest parameters: {}{}{}\n", hpo::to_string(best.params),  // exact
               absent_text(best.params, space), exploits > 0 ? " (sampled; never replaced)" : "");
  } else {
    fmt::print("\nbest parameters: {} (final: from its copy of trial {} at step {})\n",
               hpo::to_string(report::final_params(best)), best_exploits.back()->donor,
               best_exploits.back()->step);
    fmt::print("sampled at the start: {}\n", hpo::to_string(best.params));
  }
}

void print_study_runs(const std::vector<hpo::RunRecord>& runs,
                      const std::vector<hpo::TrialRecord>& trials, double grace) {
  if (runs.empty()) return;
  const double now = hpo::wall_seconds();
  fmt::print("processes:\n");
  for (const auto& run : runs) {
    std::vector<int64_t> held;
    for (const auto& t : trials) {
      if (t.state == hpo::TrialState::Running && t.owner == run.id) held.push_back(t.number);
    }
    std::string numbers;
    for (int64_t n : held) numbers += fmt::format("{}{}", numbers.empty() ? "" : " ", n);
    const bool gone = hpo::run_is_gone(run, now, grace);
    fmt::print("  {}:{}  run {}  {}  heartbeat {:.0f} s ago  running {}{}\n", run.host, run.pid,
               run.id, gone ? "gone" : "live", std::max(0.0, now - run.heartbeat), held.size(),
               held.empty() ? std::string() : fmt::format(" (trials {})", numbers));
  }
}

}  // namespace krill::cli
