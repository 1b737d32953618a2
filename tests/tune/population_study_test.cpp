// Population mode of a study (LocalOptions::population with TrainingObjective as the group
// objective): trials of one architecture (dense or convolutional) train together, and each ends
// exactly as it would have alone -- its reports, value, state and best weights -- on the CPU bit
// for bit; trials of other architectures form their own groups; a diverging member fails alone.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "exec/local_executor.hpp"
#include "hpo/sampler.hpp"
#include "hpo/study.hpp"
#include "store/memory_storage.hpp"
#include "train/checkpoint.hpp"
#include "train/synthetic.hpp"
#include "tune/pbt_config.hpp"
#include "tune/study_file.hpp"
#include "tune/study_files.hpp"
#include "tune/trainable.hpp"

namespace krill::tune {
namespace {

namespace fs = std::filesystem;

std::shared_ptr<const StudyData> synthetic_data() {
  return std::make_shared<const StudyData>(StudyData{testing::synthetic_dataset(600, 3, 1),
                                                     testing::synthetic_dataset(200, 3, 2),
                                                     testing::synthetic_dataset(200, 3, 3)});
}

struct Outcome {
  std::map<int64_t, hpo::TrialRecord> trials;  // by number
  std::vector<uint8_t> best_weights;
};

class PopulationStudyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend::backend(Device::Cpu).set_threads(1);
    dir_ = fs::temp_directory_path() /
           ("krill_population_study_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs the study of `yaml` with one worker, `population` trials at a time (`workers` for a
  // PBT study trained a member per worker).
  Outcome run(const std::string& yaml, int population, int workers = 1) {
    StudyFile file = parse_study_file("data: mnist\n" + yaml, "population.yaml");
    // The storage (here only the prefix of PBT members' state files) in the test's folder, apart
    // from other tests' studies of the same name that run at the same time.
    file.storage = dir_ / ("p" + std::to_string(population) + ".db");
    store::MemoryStorage storage;
    hpo::StudyRecord record;
    record.name = file.name;
    record.direction = file.direction;
    record.objective = file.objective;
    record.n_trials = file.trials;
    hpo::Study study(record, file.space, hpo::make_sampler(file.sampler, file.seed), storage,
                     nullptr, {}, make_pbt(file.pbt, file.space, file.seed));
    const fs::path prefix = dir_ / ("p" + std::to_string(population));
    TrainingObjective objective(file, data_, prefix, std::nullopt);
    exec::LocalExecutor executor(
        {.workers = workers, .threads_per_worker = 1, .population = population});
    executor.set_group_objective(&objective);
    hpo::OptimizeOptions options;
    options.executor = &executor;
    study.optimize(objective.objective(), options);
    Outcome out;
    for (const auto& t : study.trials()) out.trials[t.number] = t;
    if (auto best = study.best_trial()) {
      out.best_weights = train::read_checkpoint_file(objective.checkpoint_of(best->number));
    }
    return out;
  }

  void expect_pbt_as_on_workers(const std::string& model, const std::string& evolve);

  // Every trial of `together` ended as it did in `alone`: state, value, error and every report.
  static void expect_same_trials(const Outcome& alone, const Outcome& together) {
    ASSERT_EQ(alone.trials.size(), together.trials.size());
    for (const auto& [number, a] : alone.trials) {
      const hpo::TrialRecord& b = together.trials.at(number);
      EXPECT_EQ(a.params, b.params) << "trial " << number;
      EXPECT_EQ(a.state, b.state) << "trial " << number;
      EXPECT_EQ(a.value, b.value) << "trial " << number;
      EXPECT_EQ(a.error, b.error) << "trial " << number;
      ASSERT_EQ(a.reports.size(), b.reports.size()) << "trial " << number;
      for (size_t i = 0; i < a.reports.size(); ++i) {
        EXPECT_EQ(a.reports[i].step, b.reports[i].step) << "trial " << number;
        EXPECT_EQ(a.reports[i].value, b.reports[i].value) << "trial " << number;
        EXPECT_EQ(a.reports[i].metrics, b.reports[i].metrics) << "trial " << number;
      }
      ASSERT_EQ(a.decisions.size(), b.decisions.size()) << "trial " << number;
      for (size_t i = 0; i < a.decisions.size(); ++i) {
        EXPECT_EQ(a.decisions[i].action, b.decisions[i].action) << "trial " << number;
        EXPECT_EQ(a.decisions[i].donor, b.decisions[i].donor) << "trial " << number;
        EXPECT_EQ(a.decisions[i].params, b.decisions[i].params) << "trial " << number;
      }
      EXPECT_EQ(comparable(a.attrs), comparable(b.attrs)) << "trial " << number;
    }
    EXPECT_EQ(alone.best_weights, together.best_weights);
  }

  // Attributes but the timing and the population's size.
  static std::map<std::string, double> comparable(std::map<std::string, double> attrs) {
    attrs.erase("train_seconds");
    attrs.erase("population");
    return attrs;
  }

  static double population_of(const hpo::TrialRecord& t) {
    const auto it = t.attrs.find("population");
    return it == t.attrs.end() ? 1.0 : it->second;
  }

  static std::map<double, int> population_sizes(const Outcome& o) {
    std::map<double, int> sizes;  // attr "population" -> trials with it (0: trained alone)
    for (const auto& [n, t] : o.trials) {
      const auto it = t.attrs.find("population");
      ++sizes[it == t.attrs.end() ? 0.0 : it->second];
    }
    return sizes;
  }

  std::shared_ptr<const StudyData> data_ = synthetic_data();
  fs::path dir_;
};

const char* const kLrStudy = R"(study: lr
trials: 6
seed: 11
model:
  hidden: "12"
  dropout: 0.1
training:
  iterations: 40
  eval_every: 10
  batch: 16
search:
  lr: {type: float, low: 0.01, high: 0.3, log: true}
  momentum: {type: float, low: 0.0, high: 0.9}
)";

TEST_F(PopulationStudyTest, MembersEndAsTheirSoloTrials) {
  const Outcome alone = run(kLrStudy, 1);
  const Outcome together = run(kLrStudy, 4);
  expect_same_trials(alone, together);
  EXPECT_EQ(population_sizes(alone), (std::map<double, int>{{0.0, 6}}));
  EXPECT_EQ(population_sizes(together), (std::map<double, int>{{4.0, 4}, {2.0, 2}}));
  EXPECT_FALSE(together.best_weights.empty());
}

TEST_F(PopulationStudyTest, ArchitecturesTrainInGroupsOfTheirOwn) {
  const std::string yaml = R"(study: widths
trials: 8
seed: 5
training:
  iterations: 30
  eval_every: 10
  batch: 16
search:
  hidden: {type: choice, values: ["8", "16"]}
  lr: {type: float, low: 0.02, high: 0.2}
)";
  const Outcome alone = run(yaml, 1);
  const Outcome together = run(yaml, 8);
  expect_same_trials(alone, together);
  // Each population held trials of one width only, and some held more than one trial.
  int grouped = 0;
  for (const auto& [n, t] : together.trials) grouped += population_of(t) > 1;
  EXPECT_GT(grouped, 0);
  int widths[2] = {0, 0};
  for (const auto& [n, t] : together.trials) {
    ++widths[std::get<std::string>(t.params.at("hidden")) == "8" ? 0 : 1];
  }
  // The population of a trial never exceeds the trials of its width.
  for (const auto& [n, t] : together.trials) {
    const int own = widths[std::get<std::string>(t.params.at("hidden")) == "8" ? 0 : 1];
    EXPECT_LE(population_of(t), own) << "trial " << n;
  }
}

TEST_F(PopulationStudyTest, ADivergingMemberFailsAloneAndTheOthersGoOn) {
  const std::string yaml = R"(study: diverge
trials: 4
seed: 3
sampler: grid
model:
  hidden: "12"
training:
  iterations: 40
  eval_every: 10
  batch: 16
search:
  lr: {type: grid, values: [0.05, 1.0e+30, 0.1, 0.02]}
)";
  const Outcome alone = run(yaml, 1);
  const Outcome together = run(yaml, 4);
  expect_same_trials(alone, together);
  int diverged = 0, completed = 0;
  for (const auto& [n, t] : together.trials) {
    diverged += t.state == hpo::TrialState::Diverged;
    completed += t.state == hpo::TrialState::Completed;
    EXPECT_EQ(population_of(t), 4.0);
  }
  EXPECT_EQ(diverged, 1);
  EXPECT_EQ(completed, 3);
}

TEST_F(PopulationStudyTest, ConvolutionalTrialsTrainAsOnePopulationAsTheyWouldAlone) {
  const std::string yaml = R"(study: cnn
trials: 3
seed: 2
model:
  layers: "conv:2:3,batchnorm,relu,maxpool:2,flatten,dense:3"
training:
  iterations: 20
  eval_every: 10
  batch: 16
search:
  lr: {type: float, low: 0.02, high: 0.2}
)";
  const Outcome alone = run(yaml, 1);
  const Outcome together = run(yaml, 4);
  expect_same_trials(alone, together);
  EXPECT_EQ(population_sizes(together), (std::map<double, int>{{3.0, 3}}));
}

// A PBT study (hpo/pbt.hpp) as one population: the members report each generation together, an
// exploit loads the donor's slice into the recipient's, and every member ends exactly as in the
// study trained a member per worker: the same curves, the same exploits and explorations. The
// study: 4 members, 60 iterations, a generation every 20.
void PopulationStudyTest::expect_pbt_as_on_workers(const std::string& model,
                                                   const std::string& evolve) {
  const std::string yaml = "study: pbt\ntrials: 4\nseed: 9\nmodel:\n  " + model + R"(
training:
  iterations: 60
  eval_every: 10
  batch: 16
search:
  lr: {type: float, low: 0.005, high: 0.5, log: true}
  momentum: {type: float, low: 0.0, high: 0.9}
pbt:
  population: 4
  interval: 20
  evolve: )" + evolve + "\n";
  const Outcome workers = run(yaml, 1, 4);
  const Outcome together = run(yaml, 4);
  expect_same_trials(workers, together);
  int exploits = 0;
  for (const auto& [n, t] : together.trials) {
    EXPECT_EQ(population_of(t), 4.0);
    for (const auto& d : t.decisions) exploits += d.action == hpo::Action::Exploit;
  }
  EXPECT_EQ(exploits, 2) << "one member of four at each of the generations at steps 20 and 40";
}

TEST_F(PopulationStudyTest, APbtStudyTrainsAsOnePopulationAsItWouldOnWorkers) {
  expect_pbt_as_on_workers(R"(hidden: "12")", "[lr, momentum]");
}

// The same with a convolutional model with batch norm, whose running statistics are part of the
// state an exploit copies.
TEST_F(PopulationStudyTest, AConvolutionalPbtStudyTrainsAsOnePopulationAsItWouldOnWorkers) {
  expect_pbt_as_on_workers(R"(layers: "conv:3:3:1:1,batchnorm,relu,avgpool:2,flatten,dense:3")",
                           "[lr]");
}

}  // namespace
}  // namespace krill::tune
