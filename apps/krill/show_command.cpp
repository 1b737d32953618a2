// `krill show` and `krill export`: read a study database (also while `krill tune` writes it).
#include <fmt/core.h>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "core/error.hpp"
#include "hpo/study.hpp"
#include "report/report_data.hpp"
#include "study_choice.hpp"
#include "study_json.hpp"
#include "study_summary.hpp"
#include "tune_command.hpp"

namespace krill::cli {

namespace {

std::string csv_field(std::string s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string format_double(double v) {
  return fmt::format("{}", v);
}

// Seconds since the epoch in local time, "2026-11-30 09:32:22", with `.123456` when `micros`
// (as Optuna's trials_dataframe() writes a datetime); `none` for 0 (not started, not finished).
std::string local_time(double seconds, bool micros, const char* none) {
  if (seconds <= 0) return none;
  const auto whole = static_cast<std::time_t>(seconds);
  std::tm tm{};
  localtime_r(&whole, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &tm);
  if (!micros) return text;
  const auto us = static_cast<int>((seconds - static_cast<double>(whole)) * 1e6);
  return fmt::format("{}.{:06d}", text, std::clamp(us, 0, 999999));
}

// One row per trial with the columns of Optuna's trials_dataframe() (README, `krill export`):
// number, value, datetime_start, datetime_complete, duration (seconds), params_*,
// user_attrs_* (krill's attributes), state; then krill's own: reason, worker, requeues.
void write_csv(std::ostream& out, const std::vector<hpo::TrialRecord>& trials) {
  std::set<std::string> param_names, attr_names;
  for (const auto& t : trials) {
    for (const auto& [k, v] : t.params) param_names.insert(k);
    for (const auto& [k, v] : t.attrs) attr_names.insert(k);
  }
  out << "number,value,datetime_start,datetime_complete,duration";
  for (const auto& p : param_names) out << ",params_" << p;
  for (const auto& a : attr_names) out << ",user_attrs_" << a;
  out << ",state,reason,worker,requeues\n";
  for (const auto& t : trials) {
    const bool finished = t.state != hpo::TrialState::Running && t.finished > 0;
    out << t.number << ',' << (t.value ? format_double(*t.value) : "") << ','
        << local_time(t.started, true, "") << ','
        << (finished ? local_time(t.finished, true, "") : "") << ','
        << (finished ? format_double(t.finished - t.started) : "");
    for (const auto& p : param_names) {
      auto it = t.params.find(p);
      out << ',' << (it == t.params.end() ? "" : csv_field(hpo::to_string(it->second)));
    }
    for (const auto& a : attr_names) {
      auto it = t.attrs.find(a);
      out << ',' << (it == t.attrs.end() ? "" : format_double(it->second));
    }
    out << ',' << hpo::to_string(t.state) << ',' << csv_field(reason_of(t)) << ',' << t.worker
        << ',' << t.requeues << '\n';
  }
}

// The learning curves in long form, one row per trial, step and series: the objective's value
// ("value") and every per-step metric (lr, train_loss, val_loss...).
void write_curves_csv(std::ostream& out, const std::vector<hpo::TrialRecord>& trials) {
  out << "number,step,series,value\n";
  for (const auto& t : trials) {
    for (const auto& r : t.reports) {
      out << t.number << ',' << r.step << ",value," << format_double(r.value) << '\n';
      for (const auto& [name, v] : r.metrics) {
        out << t.number << ',' << r.step << ',' << csv_field(name) << ',' << format_double(v)
            << '\n';
      }
    }
  }
}

struct ShowArgs {
  std::string db;
  int top = 10;
  bool all = false;
  std::string study;
  bool json = false;
};

struct ExportArgs {
  std::string db;
  std::string format = "csv";
  std::string output;
  std::string study;
  bool curves = false;
};

}  // namespace

void add_show_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ShowArgs>();
  CLI::App* cmd = app.add_subcommand("show", "Summarise the studies of a database");
  cmd->add_option("database", args->db,
                  "a study database written by krill tune (a SQLite file or a postgresql:// URL)")
      ->required();
  cmd->add_option("--top", args->top, "how many of the best trials to list (0: none)")
      ->check(CLI::Range(int64_t{0}, std::numeric_limits<int64_t>::max()))
      ->capture_default_str();
  cmd->add_flag("--all", args->all,
                "list every trial, in number order, with its state and why it stopped or failed");
  cmd->add_option("--study", args->study, "show this study only (default: every study)");
  cmd->add_flag("--json", args->json,
                "print it all as one JSON document: each study's settings, counts and best trial, "
                "every trial (state, value, parameters, seed, times, reason) and the processes "
                "(README lists the fields)");
  cmd->callback([args, &exit_code] {
    args->db = database_location(args->db, "database");
    auto storage = open_existing(args->db, store::Access::Read);
    auto studies = chosen_studies(*storage, args->db, args->study);
    if (args->json) {
      std::vector<ShownStudy> shown;
      for (const auto& s : studies)
        shown.push_back({s, storage->trials(s.id), storage->runs(s.id)});
      fmt::print("{}\n",
                 show_json(hpo::display_location(args->db), shown, hpo::LeaseOptions{}.grace));
      exit_code = 0;
      return;
    }
    if (studies.empty()) fmt::print("{}: no study yet\n", hpo::display_location(args->db));
    for (const auto& s : studies) {
      const auto trials = storage->trials(s.id);
      print_study_summary(s, trials, args->top, args->all);
      print_study_runs(storage->runs(s.id), trials, hpo::LeaseOptions{}.grace);
    }
    exit_code = 0;
  });
}

void add_studies_command(CLI::App& app, int& exit_code) {
  auto db = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("studies", "List the studies of a database, a line each");
  cmd->add_option("database", *db,
                  "a study database written by krill tune (a SQLite file or a postgresql:// URL)")
      ->required();
  cmd->callback([db, &exit_code] {
    *db = database_location(*db, "database");
    auto storage = open_existing(*db, store::Access::Read);
    const auto studies = storage->studies();
    if (studies.empty()) {
      fmt::print("{}: no study yet\n", hpo::display_location(*db));
      exit_code = 0;
      return;
    }
    constexpr auto kRow =
        "{:<24} {:<9} {:>7} {:>9} {:>7} {:>6} {:>8} {:>7} {:>7}  {:>10}  {:<19}  {:<19}\n";
    fmt::print(kRow, "study", "direction", "trials", "completed", "stopped", "failed", "diverged",
               "running", "budget", "best", "created", "last activity");
    for (const auto& s : studies) {
      const auto trials = storage->trials(s.id);
      std::map<hpo::TrialState, int> counts;
      double last = s.created;
      for (const auto& t : trials) {
        ++counts[t.state];
        last = std::max({last, t.started, t.finished});
      }
      const auto best = hpo::best_of(trials, s.direction);
      fmt::print(kRow, s.name, hpo::to_string(s.direction), trials.size(),
                 counts[hpo::TrialState::Completed], counts[hpo::TrialState::Stopped],
                 counts[hpo::TrialState::Failed], counts[hpo::TrialState::Diverged],
                 counts[hpo::TrialState::Running], s.n_trials,
                 best ? fmt::format("{:.4f}", *best->value) : "-",
                 local_time(s.created, false, "-"), local_time(last, false, "-"));
    }
    exit_code = 0;
  });
}

void add_export_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ExportArgs>();
  CLI::App* cmd = app.add_subcommand("export", "Write a study's trials as CSV or JSON");
  cmd->add_option("database", args->db,
                  "a study database written by krill tune (a SQLite file or a postgresql:// URL)")
      ->required();
  cmd->add_option("--format", args->format, "csv or json")
      ->check(CLI::IsMember({"csv", "json"}))
      ->capture_default_str();
  cmd->add_option("--output,-o", args->output, "file to write (default: standard output)");
  cmd->add_option("--study", args->study, "which study, when the database holds several");
  cmd->add_flag("--curves", args->curves,
                "CSV: the learning curves in long form (number,step,series,value) instead of one "
                "row per trial");
  cmd->callback([args, &exit_code] {
    if (args->curves && args->format != "csv") {
      throw InvalidArgument("--curves is a CSV layout; the JSON export holds the curves already");
    }
    args->db = database_location(args->db, "database");
    auto storage = open_existing(args->db, store::Access::Read);
    const hpo::StudyRecord chosen = one_study(*storage, args->db, args->study);
    const auto trials = storage->trials(chosen.id);
    std::ofstream file;
    if (!args->output.empty()) {
      file.open(args->output);
      if (!file) throw DataError(args->output + ": cannot open for writing");
    }
    std::ostream& out = args->output.empty() ? std::cout : file;
    if (args->format == "csv" && args->curves) {
      write_curves_csv(out, trials);
    } else if (args->format == "csv") {
      write_csv(out, trials);
    } else {
      // The same JSON as `krill report` embeds: study, dims, trials with curves and metrics.
      out << report::to_json(report::load_report_data(*storage, chosen.name)) << '\n';
    }
    // A full disk (or /dev/full) fails the write, not the open: say so instead of success.
    out.flush();
    if (file.is_open()) file.close();
    if (!out) {
      throw DataError((args->output.empty() ? std::string("standard output") : args->output) +
                      ": write failed");
    }
    exit_code = 0;
  });
}

}  // namespace krill::cli
