// `krill best` and `krill show --json` as a user runs them: the printed `krill train` command
// trains the best trial again to exactly its stored value; a study without a completed trial is
// one line of error; show --json holds what show prints (settings, counts, best, every trial
// with its seed and reason, the processes).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "apps/cli_util.hpp"
#include "core/rng.hpp"
#include "hpo/search_space.hpp"
#include "report/json_reader.hpp"
#include "store/open.hpp"

namespace {

namespace fs = std::filesystem;
namespace hpo = krill::hpo;
using krill::testing::Json;
using krill::testing::parse_json;
using krill::testing::run_krill;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// The trial's seed as TrainingObjective derives it from the study's, as JSON writes it.
std::string seed_of(uint64_t study_seed, int64_t number) {
  return std::to_string(krill::Rng::derive(study_seed, static_cast<uint64_t>(number)));
}

class BestCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = krill::testing::fresh_test_folder("krill_best_test");
    data_ = dir_ / "my data";  // a space: the printed command quotes it
    fs::create_directories(data_);
    krill::testing::write_synthetic_split(data_, "train", 900, 1);
    krill::testing::write_synthetic_split(data_, "t10k", 100, 2);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // `krill tune` on a study of a few short trials, one worker of one thread.
  fs::path tune(const std::string& name, const std::string& settings) {
    const fs::path file = dir_ / (name + ".yaml");
    std::ofstream(file) << "study: " << name << "\ndata: " << data_.string()
                        << "\ntrials: 3\nworkers: 1\nsampler: random\n"
                        << settings;
    const auto r = run_krill("tune " + file.string() + " --quiet --threads 1");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return dir_ / (name + ".db");
  }

  // A database written through the storage interface: study `name` with `config` as its stored
  // settings, and the trials given.
  void write_study(const fs::path& db, const std::string& name, const std::string& config,
                   const std::vector<hpo::TrialRecord>& trials) {
    auto storage = krill::store::open_storage(db);
    hpo::StudyRecord s;
    s.name = name;
    s.objective = "val_accuracy";
    s.space = hpo::SearchSpace{{"lr", hpo::FloatDim{1e-4, 0.1, true}}}.fingerprint();
    s.sampler = "random(seed=5)";
    s.config = config;
    s.n_trials = 6;
    s.created = 1000;
    const int64_t id = storage->create_study(s);
    for (auto t : trials) {
      const auto state = t.state;
      t.state = hpo::TrialState::Running;
      storage->start_trial(id, t);
      for (const auto& d : t.decisions) storage->add_decision(id, t.number, d);
      if (state == hpo::TrialState::Running) continue;
      t.state = state;
      storage->finish_trial(id, t);
    }
  }

  fs::path dir_;
  fs::path data_;
};

hpo::TrialRecord trial(int64_t number, hpo::TrialState state, std::optional<double> value = {}) {
  hpo::TrialRecord t;
  t.number = number;
  t.params = {{"lr", 0.001 * static_cast<double>(number + 1)}};
  t.state = state;
  t.value = value;
  t.started = 2000.0 + 10.0 * static_cast<double>(number);
  t.finished = state == hpo::TrialState::Running ? 0 : t.started + 4;
  t.worker = 0;
  return t;
}

hpo::DecisionRecord decision(int64_t step, hpo::Action action, const std::string& reason) {
  hpo::DecisionRecord d;
  d.step = step;
  d.action = action;
  d.reason = reason;
  return d;
}

// The settings `krill tune` stores (StudyFile::canonical()), written out.
const std::string kConfig =
    "study: \"s\"\ndata: \"/data/x\"\nvalidation: 0.2\nsubset: 0\nobjective: \"val_accuracy\"\n"
    "sampler: \"random\"\nseed: 5\nfixed batch: 16\nfixed hidden: \"8\"\nspace: \"lr: float log "
    "0.0001 0.1\"\n\nstopping: median(warmup=1)";

// The command `krill best` prints gives the best trial's stored value exactly (one thread both
// times), for an SGD study minimising the validation loss (step schedule, momentum + Nesterov,
// dropout, width x depth, a subset) and an Adam study maximising the accuracy (cosine schedule,
// hidden widths searched, epochs, an initialisation).
TEST_F(BestCliTest, CommandTrainsTheBestTrialToItsValue) {
  const std::vector<std::pair<std::string, std::string>> studies{
      {"sgd",
       "validation: 0.25\nsubset: 700\nobjective: val_loss\nseed: 11\n"
       "model:\n  activation: tanh\n"
       "training:\n  optimizer: sgd\n  nesterov: 1\n  batch: 16\n  iterations: 60\n"
       "  eval_every: 20\n  schedule: step\n  decay_every: 25\n  decay_factor: 0.7\n"
       "search:\n  lr: {type: float, low: 0.01, high: 0.3, log: true}\n"
       "  momentum: {type: float, low: 0.5, high: 0.9}\n"
       "  dropout: {type: float, low: 0.0, high: 0.3}\n"
       "  weight_decay: {type: float, low: 0.00001, high: 0.001, log: true}\n"
       "  width: {type: int, low: 4, high: 24}\n  depth: {type: int, low: 1, high: 2}\n"},
      {"adam",
       "validation: 0.2\nobjective: val_accuracy\nseed: 4\n"
       "model:\n  init: torch\n"
       "training:\n  optimizer: adam\n  batch: 32\n  epochs: 2\n  schedule: cosine\n"
       "  warmup: 5\n  min_factor: 0.1\n"
       "search:\n  lr: {type: float, low: 0.001, high: 0.05, log: true}\n"
       "  hidden: {type: choice, values: [\"12\", \"10,6\"]}\n"},
      // A CNN from a layer template: the printed --model is the template filled in.
      {"cnn",
       "validation: 0.2\nobjective: val_accuracy\nseed: 9\n"
       "model:\n  layers: \"conv:{filters}:3:1:1,relu,maxpool:2,batchnorm,flatten,"
       "dropout:{dropout},dense:10\"\n"
       "training:\n  optimizer: sgd\n  batch: 16\n  iterations: 40\n"
       "search:\n  lr: {type: float, low: 0.01, high: 0.3, log: true}\n"
       "  filters: {type: int, low: 2, high: 6}\n"
       "  dropout: {type: float, low: 0.0, high: 0.3}\n"},
  };
  for (const auto& [name, settings] : studies) {
    SCOPED_TRACE(name);
    const fs::path db = tune(name, settings);
    const auto best = run_krill("best " + db.string() + " --json");
    ASSERT_EQ(best.exit_code, 0) << best.output;
    const Json b = parse_json(best.output);
    EXPECT_EQ(b["study"].string, name);
    EXPECT_TRUE(b["reproduces"].boolean);
    EXPECT_TRUE(b["note"].is_null());
    EXPECT_EQ(b["attrs"]["threads"].number, 1);  // what tune's --threads 1 gave it
    const std::string command = b["command"].string;
    ASSERT_THAT(command, StartsWith("krill train "));
    EXPECT_THAT(command, HasSubstr("'" + data_.string() + "'"));
    EXPECT_THAT(command, HasSubstr("--threads 1"));
    EXPECT_THAT(command, HasSubstr("--seed " + b["seed"].string));
    EXPECT_TRUE(fs::exists(b["checkpoint"].string)) << b["checkpoint"].string;
    if (name == "cnn") {
      EXPECT_THAT(command, HasSubstr("--model conv:"));
      EXPECT_THAT(command, HasSubstr(",relu,maxpool:2,batchnorm,flatten,dropout:"));
      EXPECT_THAT(command, Not(HasSubstr("{")));
      EXPECT_THAT(command, Not(HasSubstr("--activation")));
    }

    const auto again = run_krill(command.substr(6) + " --json --quiet");
    ASSERT_EQ(again.exit_code, 0) << command << "\n" << again.output;
    const Json trained = parse_json(again.output);
    const std::string objective = b["objective"].string;
    EXPECT_EQ(trained[objective].number, b["value"].number) << command;
    EXPECT_EQ(trained["val_loss"].number, b["attrs"]["val_loss"].number);
    EXPECT_EQ(trained["val_accuracy"].number, b["attrs"]["val_accuracy"].number);
    EXPECT_EQ(trained["iterations"].number, b["attrs"]["iterations"].number);
    EXPECT_EQ(trained["seed"].string, b["seed"].string);

    // The text form: the same command, and show --json agrees on the best trial and its seed.
    const auto text = run_krill("best " + db.string());
    EXPECT_THAT(text.output, HasSubstr("\n  " + command + "\n"));
    const auto show = run_krill("show " + db.string() + " --json");
    ASSERT_EQ(show.exit_code, 0) << show.output;
    const Json shown = parse_json(show.output)["studies"][0];
    EXPECT_EQ(shown["study"]["best"]["number"].number, b["number"].number);
    EXPECT_EQ(shown["study"]["best"]["value"].number, b["value"].number);
    const Json& t = shown["trials"][static_cast<size_t>(b["number"].number)];
    EXPECT_EQ(t["seed"].string, b["seed"].string);
    EXPECT_EQ(t["value"].number, b["value"].number);
  }
}

TEST_F(BestCliTest, AStudyWithoutACompletedTrialIsOneLineOfError) {
  const fs::path db = dir_ / "none.db";
  auto failed = trial(0, hpo::TrialState::Failed);
  failed.error = "dropout 1.0";
  write_study(db, "none", kConfig, {failed, trial(1, hpo::TrialState::Running)});
  for (const char* json : {"", " --json"}) {
    const auto r = run_krill("best " + db.string() + json);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_EQ(r.output, "krill: error: study 'none' in " + db.string() +
                            " has no completed trial yet (1 failed, 1 running): no best trial\n");
  }
  write_study(db, "empty", kConfig, {});
  const auto empty = run_krill("best " + db.string() + " --study empty");
  EXPECT_EQ(empty.exit_code, 2);
  EXPECT_THAT(empty.output, HasSubstr("has no completed trial yet (no trials)"));
  const auto two = run_krill("best " + db.string());
  EXPECT_EQ(two.exit_code, 2);
  EXPECT_THAT(two.output, HasSubstr("holds 2 studies (none, empty): choose one with --study"));
  const auto missing = run_krill("best " + (dir_ / "missing.db").string());
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.output, HasSubstr("no such study database"));
  EXPECT_FALSE(fs::exists(dir_ / "missing.db"));
}

// A study made by a C++ objective keeps no training settings: the best trial, and why there is
// no command.
TEST_F(BestCliTest, AStudyWithoutTrainingSettingsHasNoCommand) {
  const fs::path db = dir_ / "custom.db";
  write_study(db, "custom", "x: 1", {trial(0, hpo::TrialState::Completed, 0.5)});
  const auto r = run_krill("best " + db.string() + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const Json b = parse_json(r.output);
  EXPECT_EQ(b["value"].number, 0.5);
  EXPECT_TRUE(b["command"].is_null());
  EXPECT_TRUE(b["seed"].is_null());
  EXPECT_FALSE(b["reproduces"].boolean);
  EXPECT_THAT(b["note"].string, HasSubstr("no 'data' line"));
  const auto text = run_krill("best " + db.string());
  EXPECT_THAT(text.output, HasSubstr("no krill train command"));
}

// A PBT study's settings and two members of values `value0` and `value1`: trial 1 copied trial 0
// at step 10, and trains with lr 0.0625 from then on.
std::pair<std::string, std::vector<hpo::TrialRecord>> pbt_members(double value0, double value1) {
  std::string config = kConfig;
  config.replace(config.find("stopping: median(warmup=1)"), std::string::npos,
                 "pbt: pbt(population=2, interval=10)");
  auto donor = trial(0, hpo::TrialState::Completed, value0);
  auto member = trial(1, hpo::TrialState::Completed, value1);
  hpo::DecisionRecord exploit = decision(10, hpo::Action::Exploit, "pbt: bottom quantile");
  exploit.donor = 0;
  exploit.donor_step = 10;
  exploit.params = {{"lr", 0.0625}};
  member.decisions = {exploit};
  return {config, {donor, member}};
}

// A PBT member's weights passed through other members' hyperparameters: the command trains its
// final ones, and says that it does not reproduce the study's value.
TEST_F(BestCliTest, APbtStudysCommandSaysItDoesNotReproduce) {
  const fs::path db = dir_ / "pbt.db";
  const auto [config, members] = pbt_members(0.6, 0.8);
  write_study(db, "pbt", config, members);
  const auto r = run_krill("best " + db.string() + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const Json b = parse_json(r.output);
  EXPECT_EQ(b["number"].number, 1);
  EXPECT_EQ(b["params"]["lr"].number, 0.002);
  EXPECT_EQ(b["final_params"]["lr"].number, 0.0625);
  EXPECT_FALSE(b["reproduces"].boolean);
  EXPECT_THAT(b["command"].string, HasSubstr(" --lr 0.0625 "));
  EXPECT_THAT(b["note"].string, HasSubstr("does not reproduce the PBT schedule"));
  const auto text = run_krill("best " + db.string());
  EXPECT_THAT(text.output, HasSubstr("final (PBT)   lr=0.0625\n"));
  EXPECT_THAT(text.output, HasSubstr("note: a PBT study"));
  EXPECT_THAT(text.output, Not(HasSubstr("train it again")));
}

// A PBT member never replaced trained alone with its own hyperparameters: its command reproduces
// it (it said "trained by several members in turn" and reproduces: false).
TEST_F(BestCliTest, APbtMemberNeverReplacedReproduces) {
  const fs::path db = dir_ / "pbt.db";
  const auto [config, members] = pbt_members(0.8, 0.6);
  write_study(db, "pbt", config, members);
  const auto r = run_krill("best " + db.string() + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const Json b = parse_json(r.output);
  EXPECT_EQ(b["number"].number, 0);
  EXPECT_TRUE(b["reproduces"].boolean);
  EXPECT_TRUE(b["note"].is_null());
  EXPECT_THAT(b["command"].string, HasSubstr(" --lr 0.001 "));
}

// A trial that trained with more threads than the command's one: its sums ran in another order,
// so the command says it may differ in the last digits (reproduces: false), as the text did.
TEST_F(BestCliTest, ATrialTrainedWithSeveralThreadsIsNotSaidToReproduce) {
  auto several = trial(0, hpo::TrialState::Completed, 0.8);
  several.attrs["threads"] = 2;
  auto one = trial(1, hpo::TrialState::Completed, 0.6);
  one.attrs["threads"] = 1;
  const fs::path db = dir_ / "threads.db";
  write_study(db, "threads", kConfig, {several, one});
  const auto r = run_krill("best " + db.string() + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const Json b = parse_json(r.output);
  EXPECT_FALSE(b["reproduces"].boolean);
  EXPECT_THAT(b["note"].string, HasSubstr("the trial trained with 2 threads, the command with 1"));
  const auto text = run_krill("best " + db.string());
  EXPECT_THAT(text.output, HasSubstr("train it again:\n"));
  EXPECT_THAT(text.output, HasSubstr("note: the trial trained with 2 threads"));
  // A trial trained on a GPU: not the CPU's sums either.
  auto gpu = one;
  gpu.attrs["gpu"] = 1;
  const fs::path db_gpu = dir_ / "gpu.db";
  write_study(db_gpu, "gpu", kConfig, {gpu});
  const Json g = parse_json(run_krill("best " + db_gpu.string() + " --json").output);
  EXPECT_FALSE(g["reproduces"].boolean);
  EXPECT_THAT(g["note"].string, HasSubstr("the trial trained on a GPU, the command on the CPU"));
  // Trial 1 alone (one thread) reproduces.
  const fs::path db1 = dir_ / "one.db";
  write_study(db1, "one", kConfig, {one});
  EXPECT_TRUE(
      parse_json(run_krill("best " + db1.string() + " --json").output)["reproduces"].boolean);
}

TEST_F(BestCliTest, ShowJsonHoldsWhatShowPrints) {
  const fs::path db = dir_ / "shown.db";
  auto failed = trial(1, hpo::TrialState::Failed);
  failed.error = "parameter 'dropout' is 1, expected a number in [0, 1)";
  auto stopped = trial(2, hpo::TrialState::Stopped, 0.4);
  stopped.decisions = {decision(20, hpo::Action::Stop, "median: below")};
  auto best = trial(3, hpo::TrialState::Completed, 0.9);
  best.attrs = {{"test_accuracy", 0.875}, {"val_loss", 0.25}};
  write_study(db, "shown", kConfig,
              {trial(0, hpo::TrialState::Completed, 0.7), failed, stopped, best,
               trial(4, hpo::TrialState::Running)});
  const auto r = run_krill("show " + db.string() + " --study shown --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const Json doc = parse_json(r.output);
  EXPECT_EQ(doc["database"].string, db.string());
  ASSERT_EQ(doc["studies"].array.size(), 1u);
  const Json& s = doc["studies"][0]["study"];
  EXPECT_EQ(s["name"].string, "shown");
  EXPECT_EQ(s["direction"].string, "maximize");
  EXPECT_EQ(s["objective"].string, "val_accuracy");
  EXPECT_EQ(s["sampler"].string, "random(seed=5)");
  EXPECT_EQ(s["stopping"].string, "median(warmup=1)");
  EXPECT_TRUE(s["pbt"].is_null());
  EXPECT_EQ(s["n_trials"].number, 6);
  EXPECT_EQ(s["settings"]["data"].string, "/data/x");
  EXPECT_EQ(s["settings"]["validation"].number, 0.2);
  EXPECT_EQ(s["settings"]["seed"].string, "5");
  EXPECT_EQ(s["settings"]["fixed"]["batch"].number, 16);
  EXPECT_EQ(s["settings"]["fixed"]["hidden"].string, "8");
  EXPECT_EQ(s["counts"]["total"].number, 5);
  EXPECT_EQ(s["counts"]["completed"].number, 2);
  EXPECT_EQ(s["counts"]["stopped"].number, 1);
  EXPECT_EQ(s["counts"]["failed"].number, 1);
  EXPECT_EQ(s["counts"]["diverged"].number, 0);
  EXPECT_EQ(s["counts"]["running"].number, 1);
  EXPECT_EQ(s["compute_seconds"].number, 16);  // four finished trials of 4 s
  EXPECT_EQ(s["best"]["number"].number, 3);
  EXPECT_EQ(s["best"]["value"].number, 0.9);
  EXPECT_EQ(s["best"]["test_accuracy"].number, 0.875);
  EXPECT_EQ(s["best"]["params"]["lr"].number, 0.001 * 4);

  const Json& trials = doc["studies"][0]["trials"];
  ASSERT_EQ(trials.array.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(trials[i]["number"].number, static_cast<double>(i));
    EXPECT_EQ(trials[i]["seed"].string, seed_of(5, static_cast<int64_t>(i)));
    EXPECT_EQ(trials[i]["params"]["lr"].number, 0.001 * static_cast<double>(i + 1));
  }
  EXPECT_EQ(trials[0]["state"].string, "completed");
  EXPECT_EQ(trials[0]["value"].number, 0.7);
  EXPECT_EQ(trials[0]["started"].number, 2000);
  EXPECT_EQ(trials[0]["finished"].number, 2004);
  EXPECT_EQ(trials[0]["duration"].number, 4);
  EXPECT_TRUE(trials[0]["reason"].is_null());
  EXPECT_EQ(trials[1]["state"].string, "failed");
  EXPECT_TRUE(trials[1]["value"].is_null());
  EXPECT_EQ(trials[1]["reason"].string, failed.error);
  EXPECT_EQ(trials[2]["reason"].string, "step 20: median: below");
  EXPECT_EQ(trials[3]["attrs"]["val_loss"].number, 0.25);
  EXPECT_EQ(trials[4]["state"].string, "running");
  EXPECT_TRUE(trials[4]["finished"].is_null());
  EXPECT_TRUE(trials[4]["duration"].is_null());
  EXPECT_EQ(trials[4]["worker"].number, 0);
  EXPECT_TRUE(doc["studies"][0]["processes"].array.empty());

  // Without --study: every study; a study without krill tune's settings has none and no seeds.
  write_study(db, "custom", "x: 1", {trial(0, hpo::TrialState::Completed, 0.5)});
  const Json both = parse_json(run_krill("show " + db.string() + " --json").output);
  ASSERT_EQ(both["studies"].array.size(), 2u);
  const Json& custom = both["studies"][1];
  EXPECT_EQ(custom["study"]["name"].string, "custom");
  EXPECT_TRUE(custom["study"]["settings"].is_null());
  EXPECT_TRUE(custom["trials"][0]["seed"].is_null());
  EXPECT_THAT(run_krill("show " + db.string() + " --json --study nope").output,
              HasSubstr("no study 'nope'"));
}

}  // namespace
