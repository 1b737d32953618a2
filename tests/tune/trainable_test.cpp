// The training objective of a study: a trial's parameters become the training run's settings
// (seen in what the run reports and in the checkpoint it saves), the best trial's weights are kept
// beside the database and the previous best's removed -- also when two workers tie -- and the test
// set scores the best trial from those weights. Data: the synthetic 4x4, 3-class problem.
#include "tune/trainable.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "apps/cli_util.hpp"
#include "backend/backend.hpp"
#include "core/error.hpp"
#include "exec/local_executor.hpp"
#include "hpo/sampler.hpp"
#include "hpo/study.hpp"
#include "store/memory_storage.hpp"
#include "train/checkpoint.hpp"
#include "train/synthetic.hpp"

namespace krill::tune {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Every trial of these tests trains on 600 images; the validation set is another 200.
std::shared_ptr<const StudyData> synthetic_data(bool test_is_validation = false) {
  auto validation = testing::synthetic_dataset(200, 3, 2);
  return std::make_shared<const StudyData>(
      StudyData{testing::synthetic_dataset(600, 3, 1), validation,
                test_is_validation ? validation : testing::synthetic_dataset(200, 3, 3)});
}

StudyFile study_file(hpo::Params fixed, const std::string& objective = "val_accuracy") {
  StudyFile f;
  f.name = "trainable";
  f.objective = objective;
  f.direction = objective == "val_accuracy" ? hpo::Direction::Maximize : hpo::Direction::Minimize;
  f.seed = 7;
  f.fixed = std::move(fixed);
  return f;
}

// A trial as an executor hands it out, recording what the objective reports.
hpo::Trial trial(int64_t number, hpo::Params params, std::vector<hpo::Report>* reports = nullptr) {
  return hpo::Trial(number, std::move(params), [reports](const hpo::Report& r) {
    if (reports) reports->push_back(r);
    return true;
  });
}

std::vector<int64_t> steps(const std::vector<hpo::Report>& reports) {
  std::vector<int64_t> out;
  for (const auto& r : reports) out.push_back(r.step);
  return out;
}

class TrainableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend::backend(Device::Cpu).set_threads(1);
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name.begin(), name.end(), '/', '_');  // parameterized: "Test/Param"
    dir_ =
        fs::temp_directory_path() / ("krill_trainable_" + std::to_string(::getpid()) + "_" + name);
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // The files in the test's folder whose names end with `suffix`.
  std::set<std::string> files_ending(const std::string& suffix) const {
    std::set<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) {
      const std::string name = e.path().filename().string();
      if (name.ends_with(suffix)) out.insert(name);
    }
    return out;
  }

  fs::path dir_;
};

// --- parameters -> the training run ---------------------------------------------------------

TEST_F(TrainableTest, TheTrialsLearningRateGoesThroughTheSchedule) {
  // Fixed: step decay halving every 10 steps; the trial's lr (0.2) overrides the fixed one (0.5).
  TrainingObjective objective(study_file({{"lr", 0.5},
                                          {"momentum", 0.9},
                                          {"hidden", std::string("8,4")},
                                          {"batch", int64_t{16}},
                                          {"iterations", int64_t{30}},
                                          {"eval_every", int64_t{10}},
                                          {"schedule", std::string("step")},
                                          {"decay_every", int64_t{10}},
                                          {"decay_factor", 0.5}}),
                              synthetic_data(), dir_ / "study.db", std::nullopt);
  std::vector<hpo::Report> reports;
  hpo::Trial t = trial(3, {{"lr", 0.2}}, &reports);
  const double value = objective(t);

  ASSERT_THAT(steps(reports), ElementsAre(10, 20, 30));
  // The rate of each curve point's last step (0-based 9, 19, 29): 0.2 * 0.5^floor(i / 10).
  EXPECT_DOUBLE_EQ(reports[0].metrics.at("lr"), 0.2);
  EXPECT_DOUBLE_EQ(reports[1].metrics.at("lr"), 0.1);
  EXPECT_DOUBLE_EQ(reports[2].metrics.at("lr"), 0.05);
  // The objective is validation accuracy: the value returned, reported last and stored.
  EXPECT_EQ(reports.back().value, value);
  EXPECT_EQ(reports.back().metrics.at("val_accuracy"), value);
  EXPECT_EQ(t.attrs().at("val_accuracy"), value);
  EXPECT_EQ(t.attrs().at("iterations"), 30);
  EXPECT_GT(t.attrs().at("val_loss"), 0);
}

TEST_F(TrainableTest, CosineScheduleWithWarmupAndAdam) {
  TrainingObjective objective(study_file({{"optimizer", std::string("adam")},
                                          {"hidden", int64_t{8}},
                                          {"iterations", int64_t{30}},
                                          {"eval_every", int64_t{3}},
                                          {"schedule", std::string("cosine")},
                                          {"warmup", int64_t{5}},
                                          {"min_factor", 0.1}}),
                              synthetic_data(), "", std::nullopt);
  std::vector<hpo::Report> reports;
  hpo::Trial t = trial(0, {{"lr", 0.1}}, &reports);
  objective(t);
  ASSERT_EQ(reports.size(), 10u);
  std::map<int64_t, double> lr;
  for (const auto& r : reports) lr[r.step] = r.metrics.at("lr");
  // Golden values from the formula in optim/schedule.hpp, evaluated in Python (math.cos), for
  // base 0.1, warmup 5, total 30, min_factor 0.1 at 0-based steps 2, 5, 14 and 29.
  EXPECT_DOUBLE_EQ(lr.at(3), 0.06);  // warm-up: 0.1 * 3 / 5
  EXPECT_DOUBLE_EQ(lr.at(6), 0.1);   // the top of the cosine
  EXPECT_DOUBLE_EQ(lr.at(15), 0.07416006812042827);
  EXPECT_DOUBLE_EQ(lr.at(30), 0.010354838440848502);
  for (const auto& [step, rate] : lr) {
    EXPECT_DOUBLE_EQ(rate, optim::learning_rate(optim::CosineWarmup{.warmup = 5, .min_factor = 0.1},
                                                0.1, step - 1, 30))
        << "step " << step;
  }
}

TEST_F(TrainableTest, TheBatchSizeSetsTheIterationsOfAnEpoch) {
  TrainingObjective objective(study_file({{"hidden", int64_t{8}}, {"lr", 0.05}}), synthetic_data(),
                              "", std::nullopt);
  for (int64_t batch : {16, 50}) {
    std::vector<hpo::Report> reports;
    hpo::Trial t = trial(0, {{"batch", batch}, {"epochs", int64_t{2}}}, &reports);
    objective(t);
    const int64_t per_epoch = (600 + batch - 1) / batch;  // 38 or 12
    EXPECT_EQ(t.attrs().at("iterations"), 2 * per_epoch) << "batch " << batch;
    EXPECT_THAT(steps(reports), ElementsAre(per_epoch, 2 * per_epoch)) << "batch " << batch;
  }
}

TEST_F(TrainableTest, TheCheckpointHoldsTheTrialsModelAndOptimizer) {
  const fs::path db = dir_ / "study.db";
  TrainingObjective objective(study_file({{"batch", int64_t{16}}, {"iterations", int64_t{20}}}),
                              synthetic_data(), db, std::nullopt);
  hpo::Trial t = trial(
      4,
      {{"hidden", std::string("8,5")}, {"lr", 0.03}, {"momentum", 0.8}, {"nesterov", int64_t{1}}});
  objective(t);
  const fs::path ckpt = objective.checkpoint_of(4);
  EXPECT_EQ(ckpt, dir_ / "study.db.trial-4.ckpt");
  ASSERT_TRUE(fs::exists(ckpt));

  // The model is mlp:8,5 on 16 inputs and 3 classes, trained by SGD with momentum.
  auto model = nn::build_model(nn::parse_model_spec("mlp:8,5"), 16, 3, 1);
  optim::Sgd sgd(model->parameters(), {.lr = 0.03, .momentum = 0.8, .nesterov = true});
  const train::TrainState state = train::load_checkpoint_file(ckpt, *model, sgd);
  EXPECT_EQ(state.iteration, 20);
  EXPECT_DOUBLE_EQ(state.base_lr, 0.03);
  EXPECT_EQ(sgd.steps(), 20);

  auto other = nn::build_model(nn::parse_model_spec("mlp:8"), 16, 3, 1);
  optim::Sgd other_sgd(other->parameters(), {.lr = 0.03, .momentum = 0.8});
  EXPECT_THROW(train::load_checkpoint_file(ckpt, *other, other_sgd), DataError);
  optim::Adam adam(model->parameters(), {.lr = 0.03});
  EXPECT_THROW(train::load_checkpoint_file(ckpt, *model, adam), DataError);
  optim::Sgd plain(model->parameters(), {.lr = 0.03});  // momentum 0: no velocity to load
  EXPECT_THROW(train::load_checkpoint_file(ckpt, *model, plain), DataError);
}

TEST_F(TrainableTest, MakeConfigMapsEveryModelParameter) {
  const TrialConfig c = make_config({{"width", int64_t{24}},
                                     {"depth", int64_t{3}},
                                     {"activation", std::string("tanh")},
                                     {"dropout", 0.25},
                                     {"optimizer", std::string("adam")},
                                     {"lr", 0.004},
                                     {"weight_decay", 0.01}});
  EXPECT_EQ(c.model.hidden, (std::vector<int64_t>{24, 24, 24}));
  EXPECT_EQ(c.model.activation, nn::Activation::Tanh);
  EXPECT_FLOAT_EQ(c.model.dropout, 0.25f);
  EXPECT_EQ(c.optimizer, "adam");
  EXPECT_DOUBLE_EQ(c.adam.lr, 0.004);
  EXPECT_DOUBLE_EQ(c.adam.weight_decay, 0.01);
  // Defaults: mlp:512,256, SGD at 0.01, batch 32, one epoch, constant rate.
  const TrialConfig d = make_config({});
  EXPECT_EQ(d.model.hidden, (std::vector<int64_t>{512, 256}));
  EXPECT_EQ(d.optimizer, "sgd");
  EXPECT_DOUBLE_EQ(d.sgd.lr, 0.01);
  EXPECT_EQ(d.train.batch, 32);
  EXPECT_EQ(d.train.epochs, 1);
  EXPECT_TRUE(std::holds_alternative<optim::Constant>(d.train.schedule));
}

TEST_F(TrainableTest, ABadSampledValueFailsTheTrialNamingTheParameter) {
  TrainingObjective objective(study_file({{"hidden", int64_t{8}}}), synthetic_data(), dir_ / "s.db",
                              std::nullopt);
  for (const auto& [params, words] : std::vector<std::pair<hpo::Params, std::string>>{
           {{{"dropout", 1.5}}, "'dropout'"},
           {{{"optimizer", std::string("rmsprop")}}, "'rmsprop'"},
           {{{"batch", 2.5}}, "'batch'"},
           {{{"schedule", std::string("linear")}}, "'schedule'"}}) {
    hpo::Trial t = trial(0, params);
    try {
      objective(t);
      ADD_FAILURE() << "accepted " << hpo::to_string(params);
    } catch (const InvalidArgument& e) {
      EXPECT_THAT(e.what(), HasSubstr(words));
    }
  }
  EXPECT_TRUE(files_ending(".ckpt").empty());
}

TEST_F(TrainableTest, LoadStudyDataTakesTheSubsetAndHoldsOutTheValidationFraction) {
  testing::write_synthetic_split(dir_, "train", 700, 1);
  testing::write_synthetic_split(dir_, "t10k", 120, 2);
  StudyFile file = study_file({});
  file.data = dir_.string();
  file.subset = 500;
  file.validation = 0.2;
  auto data = load_study_data(file);
  EXPECT_EQ(data->train.size(), 400);
  EXPECT_EQ(data->validation.size(), 100);
  EXPECT_EQ(data->test.size(), 120);
  std::set<int64_t> seen;
  for (int64_t i : data->train.indices()) seen.insert(i);
  for (int64_t i : data->validation.indices()) EXPECT_TRUE(seen.insert(i).second) << i;
  EXPECT_EQ(seen.size(), 500u);
  EXPECT_EQ(*seen.rbegin(), 499);                                // the first 500 images only
  EXPECT_EQ(data->train.storage(), data->validation.storage());  // one copy of the pixels
  EXPECT_EQ(data->train.features(), 16);
  // Another seed holds out other images.
  file.seed = 8;
  auto other = load_study_data(file);
  EXPECT_NE(
      std::vector<int64_t>(other->validation.indices().begin(), other->validation.indices().end()),
      std::vector<int64_t>(data->validation.indices().begin(), data->validation.indices().end()));
}

// --- the best trial's weights ----------------------------------------------------------------

TEST_F(TrainableTest, OnlyTheBestTrialsWeightsStayBesideTheDatabase) {
  const fs::path db = dir_ / "study.db";
  TrainingObjective objective(
      study_file({{"hidden", int64_t{16}}, {"batch", int64_t{16}}, {"iterations", int64_t{60}}}),
      synthetic_data(/*test_is_validation=*/true), db, std::nullopt);
  // lr 1e-9 (0 is refused) leaves the initial weights (chance accuracy); 0.1 with momentum learns
  // the problem.
  std::map<int64_t, double> value;
  auto run = [&](int64_t number, double lr) {
    hpo::Trial t = trial(number, {{"lr", lr}, {"momentum", 0.9}});
    value[number] = objective(t);
    return t.attrs();
  };
  run(0, 1e-9);
  EXPECT_EQ(files_ending(".ckpt"), std::set<std::string>{"study.db.trial-0.ckpt"});
  const auto best_attrs = run(1, 0.1);
  ASSERT_GT(value[1], value[0]);
  EXPECT_EQ(files_ending(".ckpt"), std::set<std::string>{"study.db.trial-1.ckpt"});
  run(2, 1e-9);
  ASSERT_LT(value[2], value[1]);
  EXPECT_EQ(files_ending(".ckpt"), std::set<std::string>{"study.db.trial-1.ckpt"});
  EXPECT_TRUE(files_ending(".tmp").empty());

  // The test set (here the validation set itself) scored from the saved weights gives exactly the
  // trial's validation accuracy: the file holds trial 1's trained weights.
  hpo::TrialRecord best;
  best.number = 1;
  best.params = {{"lr", 0.1}, {"momentum", 0.9}};
  const auto test = objective.test_best(best);
  ASSERT_TRUE(test);
  EXPECT_EQ(test->accuracy, best_attrs.at("val_accuracy"));
  EXPECT_EQ(test->loss, best_attrs.at("val_loss"));
  EXPECT_EQ(test->count, 200);
  best.number = 0;  // its file was removed
  EXPECT_FALSE(objective.test_best(best));
}

// Distributed studies: a worker rank keeps each Completed trial's model until asked; the manager
// writes the bytes of the best as its own checkpoint, and scores it on the test set exactly as
// when the trial ran in its own process.
TEST_F(TrainableTest, AWorkersWeightsBecomeTheManagersCheckpoint) {
  const auto file =
      study_file({{"hidden", int64_t{16}}, {"batch", int64_t{16}}, {"iterations", int64_t{60}}});
  const auto data = synthetic_data(/*test_is_validation=*/true);
  TrainingObjective worker(file, data, "", std::nullopt);
  worker.keep_weights_in_memory();
  const fs::path db = dir_ / "study.db";
  TrainingObjective manager(file, data, db, std::nullopt);

  std::map<int64_t, std::map<std::string, double>> attrs;
  std::map<int64_t, double> value;
  for (auto [number, lr] : {std::pair{0, 1e-9}, {1, 0.1}, {2, 1e-9}}) {
    hpo::Trial t = trial(number, {{"lr", lr}, {"momentum", 0.9}});
    value[number] = worker(t);
    attrs[number] = t.attrs();
  }
  EXPECT_TRUE(files_ending(".ckpt").empty());  // a worker writes no file
  // As the manager sees the results: 0 is the best so far, then 1; 2 is not.
  EXPECT_TRUE(manager.wants_weights(0, value[0]));
  manager.keep_weights(0, value[0], worker.take_weights(0, true));
  EXPECT_EQ(files_ending(".ckpt"), std::set<std::string>{"study.db.trial-0.ckpt"});
  ASSERT_GT(value[1], value[0]);
  EXPECT_TRUE(manager.wants_weights(1, value[1]));
  manager.keep_weights(1, value[1], worker.take_weights(1, true));
  EXPECT_FALSE(manager.wants_weights(2, value[2]));
  EXPECT_TRUE(worker.take_weights(2, false).empty());  // forgotten, not serialized
  EXPECT_TRUE(worker.take_weights(2, true).empty());   // ... and gone
  EXPECT_TRUE(worker.take_weights(1, true).empty());   // taken once
  EXPECT_EQ(files_ending(".ckpt"), std::set<std::string>{"study.db.trial-1.ckpt"});

  hpo::TrialRecord best;
  best.number = 1;
  best.params = {{"lr", 0.1}, {"momentum", 0.9}};
  const auto test = manager.test_best(best);
  ASSERT_TRUE(test);
  EXPECT_EQ(test->accuracy, attrs[1].at("val_accuracy"));
  EXPECT_EQ(test->loss, attrs[1].at("val_loss"));
}

// The progress line shows how far the running trials are: their steps, done and planned.
TEST_F(TrainableTest, RunningStepsAreSeenWhileATrialRunsAndForgottenAfter) {
  TrainingObjective objective(study_file({{"hidden", int64_t{8}},
                                          {"batch", int64_t{16}},
                                          {"iterations", int64_t{40}},
                                          {"eval_every", int64_t{10}}}),
                              synthetic_data(), "", std::nullopt);
  std::vector<TrainingObjective::Steps> seen;
  hpo::Trial t(3, {{"lr", 0.05}}, [&](const hpo::Report&) {
    seen.push_back(objective.running_steps());  // from inside the trial, at each curve point
    return true;
  });
  objective(t);
  ASSERT_EQ(seen.size(), 4u);
  for (size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].done, 10 * static_cast<int64_t>(i + 1));
    EXPECT_EQ(seen[i].planned, 40);
  }
  const auto after = objective.running_steps();
  EXPECT_EQ(after.done, 0);
  EXPECT_EQ(after.planned, 0);
}

TEST_F(TrainableTest, NoCheckpointWithoutAPrefixOrForAWorseResumedBest) {
  TrainingObjective in_memory(study_file({{"hidden", int64_t{8}}, {"iterations", int64_t{10}}}),
                              synthetic_data(), "", std::nullopt);
  hpo::Trial t = trial(0, {{"lr", 0.05}});
  in_memory(t);
  EXPECT_TRUE(files_ending(".ckpt").empty());
  hpo::TrialRecord record;
  record.number = 0;
  EXPECT_FALSE(in_memory.test_best(record));

  // Resumed with a best of 1.0 accuracy: nothing is better, nothing is saved.
  TrainingObjective resumed(study_file({{"hidden", int64_t{8}}, {"iterations", int64_t{10}}}),
                            synthetic_data(), dir_ / "study.db", 1.0);
  hpo::Trial u = trial(5, {{"lr", 1e-9}});
  ASSERT_LT(resumed(u), 1.0);
  EXPECT_TRUE(files_ending(".ckpt").empty());
}

TEST_F(TrainableTest, AResumedStudyReplacesTheStoredBestsWeights) {
  const fs::path db = dir_ / "study.db";
  const StudyFile file =
      study_file({{"hidden", int64_t{16}}, {"batch", int64_t{16}}, {"iterations", int64_t{60}}});
  double stored_best = 0;
  {
    TrainingObjective before(file, synthetic_data(), db, std::nullopt);
    hpo::Trial t = trial(2, {{"lr", 1e-9}});
    stored_best = before(t);
  }
  ASSERT_EQ(files_ending(".ckpt"), std::set<std::string>{"study.db.trial-2.ckpt"});
  // The next process knows the stored best (as `krill tune` reads it from the database).
  TrainingObjective resumed(file, synthetic_data(), db, stored_best, /*best_number=*/2);
  hpo::Trial t = trial(3, {{"lr", 0.1}, {"momentum", 0.9}});
  ASSERT_GT(resumed(t), stored_best);
  EXPECT_EQ(files_ending(".ckpt"), std::set<std::string>{"study.db.trial-3.ckpt"});
}

// Two workers finish trials of equal value; `first` is the trial that reaches the end of its
// training first (the other waits for it at its last curve point). Whatever the order, exactly
// one checkpoint remains, it is the trial that Study::best_trial() names, and the test set scores
// it (as `krill tune` does at the end of a study).
class TieTest : public TrainableTest, public ::testing::WithParamInterface<int64_t> {};

TEST_P(TieTest, TwoWorkersTyingKeepTheCheckpointOfTheRecordedBest) {
  const int64_t first = GetParam(), second = 1 - first;
  constexpr int64_t kIterations = 60;
  const fs::path db = dir_ / "tie.db";
  StudyFile file = study_file({{"hidden", int64_t{16}},
                               {"batch", int64_t{16}},
                               {"momentum", 0.9},
                               {"iterations", kIterations},
                               {"eval_every", int64_t{20}}});
  file.trials = 2;
  // One point in the space: both trials train the same configuration (from other initial weights
  // and data orders) and both classify the validation set perfectly.
  file.space = hpo::SearchSpace{{"lr", hpo::CategoricalDim{{0.1}}}};
  store::MemoryStorage storage;
  hpo::StudyRecord record;
  record.name = file.name;
  record.direction = file.direction;
  record.objective = file.objective;
  record.n_trials = file.trials;
  hpo::Study study(record, file.space, hpo::make_sampler("random", file.seed), storage);
  TrainingObjective objective(file, synthetic_data(/*test_is_validation=*/true), db, std::nullopt);

  std::mutex mutex;
  std::condition_variable cv;
  bool first_done = false, timed_out = false;
  auto gated = [&](hpo::Trial& t) {
    hpo::Trial inner(t.number(), t.params(), [&](const hpo::Report& r) {
      if (t.number() == second && r.step == kIterations) {
        std::unique_lock lock(mutex);
        timed_out = !cv.wait_for(lock, std::chrono::seconds(60), [&] { return first_done; });
      }
      return t.report(r.step, r.value, r.metrics);
    });
    inner.set_resources(t.worker(), t.threads());
    const double value = objective(inner);
    for (const auto& [key, v] : inner.attrs()) t.set_attr(key, v);
    if (t.number() == first) {
      std::lock_guard lock(mutex);
      first_done = true;
      cv.notify_all();
    }
    return value;
  };
  exec::LocalExecutor executor({.workers = 2, .threads_per_worker = 1});
  hpo::OptimizeOptions options;
  options.executor = &executor;
  study.optimize(gated, options);
  ASSERT_FALSE(timed_out) << "the two trials did not run at the same time";

  const auto trials = study.trials();
  ASSERT_EQ(trials.size(), 2u);
  for (const auto& t : trials) {
    ASSERT_EQ(t.state, hpo::TrialState::Completed) << t.number << ": " << t.error;
  }
  ASSERT_EQ(trials[0].value, trials[1].value) << "no tie: the test needs equal values";

  const auto best = study.best_trial();
  ASSERT_TRUE(best);
  EXPECT_EQ(files_ending(".ckpt"),
            std::set<std::string>{objective.checkpoint_of(best->number).filename().string()});

  // As `krill tune` ends a study: the test set scores the recorded best from its weights.
  const auto test = objective.test_best(*best);
  ASSERT_TRUE(test) << "the weights of trial " << best->number << " are missing";
  EXPECT_EQ(test->accuracy, best->attrs.at("val_accuracy"));
}

INSTANTIATE_TEST_SUITE_P(EitherOrder, TieTest, ::testing::Values(0, 1), [](const auto& info) {
  return info.param == 0 ? "LowerNumberFinishesFirst" : "HigherNumberFinishesFirst";
});

}  // namespace
}  // namespace krill::tune
