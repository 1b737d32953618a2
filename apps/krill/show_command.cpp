// `krill show` and `krill export`: read a study database (also while `krill tune` writes it).
#include <fmt/core.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <set>

#include "core/error.hpp"
#include "report/report_data.hpp"
#include "store/open.hpp"
#include "study_summary.hpp"
#include "tune_command.hpp"

namespace krill::cli {

namespace {

std::unique_ptr<hpo::Storage> open_existing(const std::string& path) {
  if (!std::filesystem::exists(path)) throw DataError(path + ": no such study database");
  return store::open_storage(path);
}

std::string csv_field(std::string s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string format_double(double v) {
  return fmt::format("{}", v);
}

void write_csv(std::ostream& out, const std::vector<hpo::TrialRecord>& trials) {
  std::set<std::string> param_names, attr_names;
  for (const auto& t : trials) {
    for (const auto& [k, v] : t.params) param_names.insert(k);
    for (const auto& [k, v] : t.attrs) attr_names.insert(k);
  }
  out << "number,state,value,started,finished,worker,error";
  for (const auto& p : param_names) out << ",param_" << p;
  for (const auto& a : attr_names) out << ",attr_" << a;
  out << "\n";
  for (const auto& t : trials) {
    out << t.number << ',' << hpo::to_string(t.state) << ','
        << (t.value ? format_double(*t.value) : "") << ',' << format_double(t.started) << ','
        << format_double(t.finished) << ',' << t.worker << ',' << csv_field(t.error);
    for (const auto& p : param_names) {
      auto it = t.params.find(p);
      out << ',' << (it == t.params.end() ? "" : csv_field(hpo::to_string(it->second)));
    }
    for (const auto& a : attr_names) {
      auto it = t.attrs.find(a);
      out << ',' << (it == t.attrs.end() ? "" : format_double(it->second));
    }
    out << '\n';
  }
}

struct ShowArgs {
  std::string db;
  int top = 10;
  bool all = false;
};

struct ExportArgs {
  std::string db;
  std::string format = "csv";
  std::string output;
  std::string study;
};

}  // namespace

void add_show_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ShowArgs>();
  CLI::App* cmd = app.add_subcommand("show", "Summarise the studies of a database");
  cmd->add_option("database", args->db, "a study database written by krill tune")->required();
  cmd->add_option("--top", args->top, "how many of the best trials to list")->capture_default_str();
  cmd->add_flag("--all", args->all,
                "list every trial, in number order, with its state and why it stopped or failed");
  cmd->callback([args, &exit_code] {
    auto storage = open_existing(args->db);
    auto studies = storage->studies();
    if (studies.empty()) fmt::print("{}: no study yet\n", args->db);
    for (const auto& s : studies) {
      const auto trials = storage->trials(s.id);
      print_study_summary(s, trials, args->top, args->all);
      print_study_runs(storage->runs(s.id), trials, hpo::LeaseOptions{}.grace);
    }
    exit_code = 0;
  });
}

void add_export_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ExportArgs>();
  CLI::App* cmd = app.add_subcommand("export", "Write a study's trials as CSV or JSON");
  cmd->add_option("database", args->db, "a study database written by krill tune")->required();
  cmd->add_option("--format", args->format, "csv or json")
      ->check(CLI::IsMember({"csv", "json"}))
      ->capture_default_str();
  cmd->add_option("--output,-o", args->output, "file to write (default: standard output)");
  cmd->add_option("--study", args->study, "which study, when the database holds several");
  cmd->callback([args, &exit_code] {
    auto storage = open_existing(args->db);
    auto studies = storage->studies();
    const hpo::StudyRecord* chosen = nullptr;
    for (const auto& s : studies) {
      if (args->study.empty() ? studies.size() == 1 : s.name == args->study) chosen = &s;
    }
    if (!chosen) {
      std::string names;
      for (const auto& s : studies) names += (names.empty() ? "" : ", ") + s.name;
      throw InvalidArgument(args->study.empty()
                                ? args->db + " holds " + std::to_string(studies.size()) +
                                      " studies (" + names + "): choose one with --study"
                                : "--study: no study '" + args->study + "' in " + args->db +
                                      " (it holds: " + names + ")");
    }
    const auto trials = storage->trials(chosen->id);
    std::ofstream file;
    if (!args->output.empty()) {
      file.open(args->output);
      if (!file) throw DataError(args->output + ": cannot open for writing");
    }
    std::ostream& out = args->output.empty() ? std::cout : file;
    if (args->format == "csv") {
      write_csv(out, trials);
    } else {
      // The same JSON as `krill report` embeds: study, dims, trials with curves and metrics.
      out << report::to_json(report::load_report_data(*storage, chosen->name)) << '\n';
    }
    exit_code = 0;
  });
}

}  // namespace krill::cli
