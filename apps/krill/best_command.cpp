// `krill best`: a study's best trial (value, parameters, seed, weights) and the `krill train`
// command line that trains it again, to the same value with one thread.
#include <fmt/core.h>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "command_line.hpp"
#include "core/error.hpp"
#include "hpo/study.hpp"
#include "nn/model_spec.hpp"
#include "optim/schedule.hpp"
#include "report/json_writer.hpp"
#include "report/pbt_lineage.hpp"
#include "study_choice.hpp"
#include "study_json.hpp"
#include "study_summary.hpp"
#include "tune/stored_settings.hpp"
#include "tune/study_files.hpp"
#include "tune/trainable.hpp"
#include "tune_command.hpp"

namespace krill::cli {

namespace {

struct BestArgs {
  std::string db;
  std::string study;
  bool json = false;
};

// The shortest text that reads back as the same double (krill train reads it with from_chars).
std::string number(double v) {
  return fmt::format("{}", v);
}

// `krill train`'s arguments for the run a study's trial made: the data, subset, split and seed
// the study gave it (its stored settings), and the model, optimizer and training options that
// tune::make_config reads from the study file's fixed values overlaid with `params`, as the
// trial's TrainingObjective did.
std::vector<std::string> retrain_args(const tune::StoredSettings& s, const hpo::Params& params,
                                      uint64_t seed) {
  hpo::Params all = s.fixed;
  for (const auto& [name, value] : params) all[name] = value;
  const tune::TrialConfig c = tune::make_config(all);
  std::vector<std::string> args{"train", "--data", s.data};
  const auto add = [&args](const char* option, std::string value) {
    args.emplace_back(option);
    args.push_back(std::move(value));
  };
  add("--validation", number(s.validation));
  if (s.subset > 0) add("--subset", std::to_string(s.subset));
  add("--split-seed", std::to_string(s.seed));
  add("--seed", std::to_string(seed));
  add("--model", c.model.to_string());  // a template's layers filled in with the trial's values
  if (!c.model.is_list) {               // a list has its activations and dropout as layers
    add("--activation", nn::to_string(c.model.activation));
    // The double the trial's float dropout came from: krill train converts it the same way.
    if (const auto it = all.find("dropout"); it != all.end()) {
      add("--dropout", number(hpo::as_double(it->second, "dropout")));
    }
  }
  if (c.model.init) add("--init", nn::to_string(*c.model.init));
  add("--optimizer", c.optimizer);
  if (c.optimizer == "adam") {
    add("--lr", number(c.adam.lr));
    add("--weight-decay", number(c.adam.weight_decay));
  } else {
    add("--lr", number(c.sgd.lr));
    add("--momentum", number(c.sgd.momentum));
    add("--weight-decay", number(c.sgd.weight_decay));
    if (c.sgd.nesterov) args.emplace_back("--nesterov");
  }
  add("--batch", std::to_string(c.train.batch));
  if (c.train.iterations > 0) {
    add("--iterations", std::to_string(c.train.iterations));
  } else {
    add("--epochs", std::to_string(c.train.epochs));
  }
  if (c.train.eval_every > 0) add("--eval-every", std::to_string(c.train.eval_every));
  add("--schedule", optim::to_string(c.train.schedule));
  add("--threads", "1");
  return args;
}

std::string shell_command(const std::vector<std::string>& args) {
  std::string out = "krill";
  for (const auto& a : args) out += " " + shell_word(a);
  return out;
}

// What `krill best` knows of the best trial.
struct Best {
  hpo::StudyRecord study;
  hpo::TrialRecord trial;
  int64_t completed = 0;
  std::optional<uint64_t> seed;
  std::optional<std::filesystem::path> checkpoint;
  std::vector<std::string> args;  // empty: no command (`note` says why)
  bool reproduces = false;
  std::string note;
  std::string weights_path;  // PBT: the members whose hyperparameters trained the weights
};

// The best weights `krill tune` keeps beside the database (tune/study_files.hpp), when the file is
// there.
std::optional<std::filesystem::path> best_weights(const std::string& db, const std::string& study,
                                                  int64_t number) {
  const std::filesystem::path file =
      tune::checkpoint_file(tune::study_files_prefix(db, study), number);
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return std::nullopt;
  return file;
}

// Throws DataError when the study has no completed trial: one line, with what its trials did.
Best find_best(hpo::Storage& storage, const std::string& db, const std::string& name) {
  Best b;
  b.study = one_study(storage, db, name);
  const auto trials = storage.trials(b.study.id);
  const auto best = hpo::best_of(trials, b.study.direction);
  if (!best) {
    std::map<hpo::TrialState, int> counts;
    for (const auto& t : trials) ++counts[t.state];
    std::string states;
    for (auto state : {hpo::TrialState::Stopped, hpo::TrialState::Failed, hpo::TrialState::Diverged,
                       hpo::TrialState::Running}) {
      if (counts[state] == 0) continue;
      states +=
          fmt::format("{}{} {}", states.empty() ? "" : ", ", counts[state], hpo::to_string(state));
    }
    throw DataError(fmt::format("study '{}' in {} has no completed trial yet ({}): no best trial",
                                b.study.name, db, states.empty() ? "no trials" : states));
  }
  b.trial = *best;
  for (const auto& t : trials) b.completed += t.state == hpo::TrialState::Completed;
  b.checkpoint = best_weights(db, b.study.name, b.trial.number);
  tune::StoredSettings settings;
  try {
    settings = tune::read_stored_settings(b.study.config);
  } catch (const DataError& e) {
    b.note = std::string("no krill train command: ") + e.what();
    return b;
  }
  b.seed = tune::trial_seed(settings.seed, b.trial.number);
  b.args = retrain_args(settings, report::final_params(b.trial), *b.seed);
  // A PBT member never replaced trained alone, with its own hyperparameters: it reproduces.
  const auto threads = b.trial.attrs.find("threads");  // the most it trained with
  if (!report::exploits_of(b.trial).empty()) {
    b.weights_path = weights_path_text(trials, b.trial.number);
    b.note =
        "a PBT study: the best member's weights were trained by several members in turn, each "
        "with its own hyperparameters (" +
        b.weights_path +
        "); the command trains the final hyperparameters from the start, so it does not "
        "reproduce the PBT schedule or its value";
  } else if (b.trial.attrs.contains("gpu")) {
    b.note = fmt::format(
        "the trial trained on a GPU, the command on the CPU (add --device cuda to train there): "
        "its sums run in another order, so its {} may differ in the last digits",
        b.study.objective);
  } else if (threads != b.trial.attrs.end() && threads->second > 1) {
    b.note = fmt::format(
        "the trial trained with {} threads, the command with 1: its sums run in another order, "
        "so its {} may differ in the last digits",
        threads->second, b.study.objective);
  } else {
    b.reproduces = true;
  }
  return b;
}

void print_json(const Best& b, const std::string& db) {
  report::JsonWriter j;
  j.begin_object();
  write_fields(j, {{"database", db},
                   {"study", b.study.name},
                   {"objective", b.study.objective},
                   {"direction", hpo::to_string(b.study.direction)},
                   {"number", b.trial.number},
                   {"value", *b.trial.value}});
  j.key("params");
  write_params(j, b.trial.params);
  j.key("final_params");
  write_params(j, report::final_params(b.trial));
  write_fields(j, {{"seed", b.seed ? seed_text(*b.seed) : Scalar()}});
  j.key("attrs");
  j.begin_object();
  for (const auto& [k, v] : b.trial.attrs) j.field(k, v);
  j.end_object();
  write_fields(j, {{"checkpoint", b.checkpoint ? Scalar(b.checkpoint->string()) : Scalar()},
                   {"command", b.args.empty() ? Scalar() : Scalar(shell_command(b.args))}});
  j.key("argv");  // the command's arguments after "krill"
  if (b.args.empty()) {
    j.null();
  } else {
    j.begin_array();
    for (const auto& a : b.args) j.value(a);
    j.end_array();
  }
  write_fields(j, {{"reproduces", b.reproduces}, {"note", b.note.empty() ? Scalar() : b.note}});
  j.end_object();
  fmt::print("{}\n", j.str());
}

void print_text(const Best& b, const std::string& db) {
  const auto& t = b.trial;
  const auto row = [](const std::string& label, const std::string& text) {
    fmt::print("{:<14}{}\n", label, text);
  };
  fmt::print("study '{}' in {}: best of {} completed trials\n", b.study.name, db, b.completed);
  row("trial", std::to_string(t.number));
  row(b.study.objective, fmt::format("{} ({})", *t.value, hpo::to_string(b.study.direction)));
  if (const auto test = t.attrs.find("test_accuracy"); test != t.attrs.end()) {
    row("test_accuracy", fmt::format("{}", test->second));
  }
  row("parameters", hpo::to_string(t.params));
  if (!report::exploits_of(t).empty()) {
    row("final (PBT)", hpo::to_string(report::final_params(t)));
  }
  if (b.seed) row("seed", std::to_string(*b.seed));
  row("weights", b.checkpoint ? b.checkpoint->string() : "(no checkpoint file)");
  if (b.args.empty()) {
    fmt::print("{}\n", b.note);
  } else if (b.reproduces) {
    fmt::print("train it again (the same {}{}):\n  {}\n", b.study.objective,
               t.attrs.contains("threads") ? ": the trial trained with 1 thread on the CPU"
                                           : " when the study ran its trials with --threads 1",
               shell_command(b.args));
  } else {
    fmt::print("{}:\n  {}\nnote: {}\n",
               report::exploits_of(t).empty() ? "train it again"
                                              : "its final hyperparameters, trained from the start",
               shell_command(b.args), b.note);
  }
}

}  // namespace

void add_best_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<BestArgs>();
  CLI::App* cmd = app.add_subcommand(
      "best", "Print a study's best trial and the krill train command that trains it again");
  cmd->footer(
      "The best trial: its value, parameters, seed, test accuracy and best-weights checkpoint. "
      "The command gives the trial's data, split, seed, model, optimizer, schedule and length, "
      "with --threads 1: when the trial trained with 1 thread on the CPU (its attributes "
      "`threads` and `gpu`), it trains to exactly the trial's value. A PBT member's weights passed "
      "through other members' "
      "hyperparameters: "
      "its command trains its final ones from the start and does not reproduce its value. A "
      "study without a completed trial is an error (exit code 2).");
  cmd->add_option("database", args->db,
                  "a study database written by krill tune (a SQLite file or a postgresql:// URL)")
      ->required();
  cmd->add_option("--study", args->study, "which study, when the database holds several");
  cmd->add_flag("--json", args->json,
                "print it as one JSON object: number, value, params, final_params, seed, attrs, "
                "checkpoint, command, argv, reproduces, note");
  cmd->callback([args, &exit_code] {
    args->db = database_location(args->db, "database");
    auto storage = open_existing(args->db, store::Access::Read);
    const Best best = find_best(*storage, args->db, args->study);
    const std::string db = hpo::display_location(args->db);
    args->json ? print_json(best, db) : print_text(best, db);
    exit_code = 0;
  });
}

}  // namespace krill::cli
