#include "study_summary.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <map>
#include <string>

#include "report/text_chart.hpp"

namespace krill::cli {

namespace {
// Parameters for reading (4 significant digits); exports keep the exact values.
std::string short_params(const hpo::Params& params) {
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out += ' ';
    out += name + '=';
    if (const auto* d = std::get_if<double>(&value)) {
      out += fmt::format("{:.4g}", *d);
    } else {
      out += hpo::to_string(value);
    }
  }
  return out;
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

void print_study_summary(const hpo::StudyRecord& study, const std::vector<hpo::TrialRecord>& trials,
                         int top, bool all) {
  std::map<hpo::TrialState, int> counts;
  double compute = 0;
  for (const auto& t : trials) {
    ++counts[t.state];
    if (t.finished > t.started) compute += t.finished - t.started;
  }
  fmt::print("study '{}': {} trials of {} ({} {})\n", study.name, trials.size(), study.n_trials,
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

  if (all) {
    fmt::print("\n{:>6}  {:<9}  {:>10}  {:>7}  {}\n", "trial", "state", study.objective, "seconds",
               "parameters; why it stopped or failed");
    for (const auto& t : trials) {
      const std::string why = reason_of(t);
      fmt::print("{:>6}  {:<9}  {:>10}  {:>7.1f}  {}{}\n", t.number, hpo::to_string(t.state),
                 t.value ? fmt::format("{:.4f}", *t.value) : "-",
                 t.finished > t.started ? t.finished - t.started : 0.0, short_params(t.params),
                 why.empty() ? "" : "; " + why);
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
  fmt::print("\n{:>6}  {:>10}  {:>9}  {:>7}  {}\n", "trial", study.objective, "test_acc", "seconds",
             "parameters");
  for (size_t i = 0; i < done.size() && i < static_cast<size_t>(top); ++i) {
    const auto& t = *done[i];
    auto test = t.attrs.find("test_accuracy");
    fmt::print("{:>6}  {:>10.4f}  {:>9}  {:>7.1f}  {}\n", t.number, *t.value,
               test == t.attrs.end() ? "-" : fmt::format("{:.4f}", test->second),
               t.finished - t.started, short_params(t.params));
  }
  fmt::print("\n{}", report::best_so_far_chart(trials, study.direction));
  const auto& best = *done.front();
  fmt::print("\nbest trial {}: {} = {:.4f}", best.number, study.objective, *best.value);
  if (auto test = best.attrs.find("test_accuracy"); test != best.attrs.end()) {
    fmt::print(", test accuracy {:.4f}", test->second);
  }
  fmt::print("\nbest parameters: {}\n", hpo::to_string(best.params));  // exact
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
