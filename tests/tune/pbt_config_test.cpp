// The `pbt:` section of a study file (tune/pbt_config.hpp): defaults, the options, and every
// mistake refused at its line and column with what was expected; then the checks made once the
// data is known (the interval must be a step every member reports at).
#include "tune/pbt_config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "tune/study_file.hpp"
#include "tune/trainable.hpp"

namespace krill::tune {
namespace {

using ::testing::HasSubstr;

const std::string kHead =
    "study: s\ndata: fashion-mnist\ntraining:\n  iterations: 1000\n  eval_every: 50\n"
    "search:\n  lr: {type: float, low: 0.001, high: 0.5, log: true}\n";

std::string error_of(const std::string& yaml) {
  try {
    parse_study_file(yaml, "s.yaml");
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(PbtConfig, DefaultsAndOptions) {
  StudyFile f = parse_study_file(kHead + "pbt: {population: 6}\n", "s.yaml");
  ASSERT_TRUE(f.pbt);
  EXPECT_EQ(f.pbt->options.population, 6);
  EXPECT_EQ(f.pbt->options.interval, 100);
  EXPECT_EQ(f.pbt->options.quantile, 0.25);
  EXPECT_EQ(f.pbt->options.factors, (std::vector<double>{0.8, 1.2}));
  EXPECT_EQ(f.pbt->options.resample, 0.25);
  EXPECT_EQ(f.pbt->options.evolve, (std::vector<std::string>{"lr"}));
  EXPECT_EQ(f.trials, 6) << "the trials are the population";
  EXPECT_EQ(f.workers, 0);

  f = parse_study_file(kHead +
                           "  momentum: {type: float, low: 0, high: 0.95}\n"
                           "pbt:\n  population: 4\n  interval: 200\n  quantile: 0.5\n"
                           "  factors: [0.5, 2]\n  resample: 0\n  evolve: [lr, momentum]\n"
                           "trials: 4\nworkers: 5\n",
                       "s.yaml");
  EXPECT_EQ(f.pbt->options.interval, 200);
  EXPECT_EQ(f.pbt->options.quantile, 0.5);
  EXPECT_EQ(f.pbt->options.factors, (std::vector<double>{0.5, 2}));
  EXPECT_EQ(f.pbt->options.resample, 0);
  EXPECT_EQ(f.pbt->options.evolve, (std::vector<std::string>{"lr", "momentum"}));
  EXPECT_EQ(f.workers, 5);
  EXPECT_EQ(parse_study_file(kHead + "pbt: {evolve: lr}\n", "s.yaml").pbt->options.evolve,
            (std::vector<std::string>{"lr"}));
  EXPECT_FALSE(parse_study_file(kHead + "trials: 3\n", "s.yaml").pbt);
}

TEST(PbtConfig, MistakesAreRefusedWhereTheyAreWritten) {
  EXPECT_EQ(error_of(kHead + "pbt: {population: 1}\n"),
            "s.yaml:8:19: 'population' is '1', expected an integer from 2 to 4096");
  // A member per worker thread or rank, all at once: 100000 started that many threads.
  EXPECT_EQ(error_of(kHead + "pbt: {population: 4097}\n"),
            "s.yaml:8:19: 'population' is '4097', expected an integer from 2 to 4096");
  EXPECT_EQ(parse_study_file(kHead + "pbt: {population: 4096}\n", "s.yaml").trials, 4096);
  EXPECT_EQ(error_of(kHead + "pbt: {interval: 0}\n"),
            "s.yaml:8:17: 'interval' is '0', expected an integer >= 1");
  EXPECT_EQ(error_of(kHead + "pbt: {quantile: 0.6}\n"),
            "s.yaml:8:17: 'quantile' is '0.6', expected a number in (0, 0.5]");
  EXPECT_EQ(error_of(kHead + "pbt: {factors: 1.2}\n"),
            "s.yaml:8:16: 'factors' is '1.2', expected a list of numbers > 0, e.g. [0.8, 1.2]");
  EXPECT_EQ(error_of(kHead + "pbt: {factors: [0.8, -1]}\n"),
            "s.yaml:8:22: a factor is '-1', expected a number in (0, 1e+06]");
  EXPECT_EQ(error_of(kHead + "pbt: {resample: 2}\n"),
            "s.yaml:8:17: 'resample' is '2', expected a number in [0, 1]");
  EXPECT_THAT(error_of(kHead + "pbt: {populaton: 4}\n"),
              HasSubstr("s.yaml:8:7: unknown key 'populaton', did you mean 'population'?"));
  EXPECT_THAT(error_of(kHead + "pbt: 4\n"), HasSubstr("s.yaml:8:6: "));
  // A name that is no hyperparameter at all: a misspelling, not one that "changes the model".
  EXPECT_EQ(error_of(kHead + "pbt: {evolve: [lrr]}\n"),
            "s.yaml:8:15: pbt evolves 'lrr', which is no hyperparameter, did you mean 'lr'? (the "
            "search has lr)");
  EXPECT_EQ(error_of(kHead + "pbt: {evolve: [zzz]}\n"),
            "s.yaml:8:15: pbt evolves 'zzz', which is no hyperparameter (the search has lr)");
  EXPECT_EQ(error_of(kHead + "pbt: {evolve: momentum}\n"),
            "s.yaml:8:15: pbt evolves 'momentum', which is not under search: (it has lr), "
            "expected a dimension to start the population from, e.g. momentum: {type: float, "
            "low: 0.001, high: 0.1, log: true}");
  EXPECT_THAT(error_of(kHead + "  hidden: {type: choice, values: [\"64\", \"128\"]}\n"
                               "pbt: {population: 4}\n"),
              HasSubstr("pbt: 'hidden' is searched, but it cannot change while a member trains"));
  EXPECT_THAT(error_of(kHead + "  batch: {type: choice, values: [32, 64]}\n"
                               "pbt: {evolve: [lr, batch]}\n"),
              HasSubstr("'batch' is searched, but it cannot change while a member trains"));
  // A conditional dimension, or its parent, cannot evolve: members would differ in which
  // hyperparameters they have.
  const std::string conditional = kHead +
                                  "  schedule: {type: choice, values: [constant, exp]}\n"
                                  "  gamma: {type: float, low: 0.9, high: 1.0, when: {schedule: "
                                  "exp}}\n";
  EXPECT_THAT(error_of(conditional + "pbt: {evolve: [lr, gamma]}\n"),
              HasSubstr("s.yaml:10:15: pbt cannot evolve 'gamma': it is conditional (if "
                        "schedule = exp), expected a dimension that every member has"));
  EXPECT_THAT(
      error_of(conditional + "pbt: {evolve: [lr, schedule]}\n"),
      HasSubstr("pbt cannot evolve 'schedule': it is the parent of the conditional 'gamma'"));
  EXPECT_NO_THROW(parse_study_file(conditional + "pbt: {evolve: [lr]}\n", "s.yaml"));
  EXPECT_EQ(error_of(kHead + "pbt: {population: 4}\ntrials: 8\n"),
            "s.yaml:9:9: 'trials' is 8, but a PBT study's trials are its population (4), "
            "expected no 'trials' or 4");
  EXPECT_EQ(error_of(kHead + "pbt: {population: 4}\nworkers: 2\n"),
            "s.yaml:9:10: 'workers' is 2, but the PBT population of 4 trains at once, expected "
            "no 'workers', at least 4 (a member per worker), or 'population' at least 4 (the "
            "members trained together)");
  // Trained together, the members need no worker each (it was refused, as STUDY-FILE.md says
  // it should not be); auto on cuda is 64.
  EXPECT_NO_THROW(
      parse_study_file(kHead + "pbt: {population: 4}\nworkers: 1\npopulation: 4\n", "s.yaml"));
  EXPECT_NO_THROW(
      parse_study_file(kHead + "pbt: {population: 4}\nworkers: 1\ndevice: cuda\n", "s.yaml"));
  EXPECT_THAT(error_of(kHead + "pbt: {population: 4}\nworkers: 1\npopulation: 2\n"),
              HasSubstr("'workers' is 1, but the PBT population of 4"));
  EXPECT_THAT(error_of(kHead + "pbt: {population: 4}\nstopping: {rule: median}\n"),
              HasSubstr("s.yaml:8:1: pbt and stopping: (rule median) do not combine"));
}

TEST(PbtConfig, EvolvableHyperparameters) {
  for (const char* name : {"lr", "momentum", "weight_decay", "nesterov", "decay_factor", "gamma"}) {
    EXPECT_TRUE(evolvable(name)) << name;
  }
  for (const char* name : {"hidden", "batch", "optimizer", "iterations", "dropout", "nonsense"}) {
    EXPECT_FALSE(evolvable(name)) << name;
  }
}

// Once the data is known: 8,000 training images, batch 32 (250 batches per epoch).
std::string acts(const std::string& training, const std::string& pbt) {
  const DataShape data{
      .train = 8000, .validation = 2000, .features = 784, .classes = 10, .image = {1, 28, 28}};
  try {
    check_study_data(
        parse_study_file("study: s\ndata: fashion-mnist\ntraining:\n" + training +
                             "search:\n  lr: {type: float, low: 0.001, high: 0.5, log: true}\n"
                             "pbt:\n" +
                             pbt,
                         "s.yaml"),
        data);
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "(accepted)";
}

TEST(PbtConfig, TheIntervalMustBeAStepEveryMemberReportsAt) {
  const std::string every50 = "  batch: 32\n  iterations: 1000\n  eval_every: 50\n";
  EXPECT_EQ(acts(every50, "  interval: 200\n"), "(accepted)");
  EXPECT_EQ(acts(every50, "  interval: 120\n"),
            "s.yaml:10:13: the PBT interval is 120 steps, but trials report every 50 (eval_every), "
            "expected a multiple of 50");
  EXPECT_EQ(acts(every50, "  interval: 1000\n"),
            "s.yaml:10:13: the PBT interval is 1000 steps, but trials train 1000 steps: no "
            "generation would ever be decided, expected an interval below 1000");
  // No eval_every: a point per epoch of 250 batches.
  EXPECT_EQ(acts("  batch: 32\n  epochs: 3\n", "  interval: 500\n"), "(accepted)");
  EXPECT_EQ(acts("  batch: 32\n  epochs: 3\n", "  interval: 100\n"),
            "s.yaml:9:13: the PBT interval is 100 steps, but trials report at the end of each "
            "epoch of 250 batches, expected a multiple of 250 (or set eval_every)");
}

}  // namespace
}  // namespace krill::tune
