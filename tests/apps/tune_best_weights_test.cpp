// What `krill tune` leaves for the user: the best trial's weights beside the database (one file,
// named after the trial that the study records as best) and that trial's test-set score in its
// attributes, measured once, from those weights.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "apps/cli_util.hpp"
#include "store/open.hpp"

namespace {

namespace fs = std::filesystem;
using krill::testing::run_krill;
using ::testing::HasSubstr;

class TuneBestWeightsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = krill::testing::fresh_test_folder("krill_best_weights");
    krill::testing::write_synthetic_data(dir_, 600, 300);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write_study(int trials, int workers) {
    const fs::path file = dir_ / "study.yaml";
    std::ofstream(file) << "study: best\n"
                        << "data: " << (dir_ / "data").string() << "\n"
                        << "validation: 0.2\nobjective: val_accuracy\n"
                        << "trials: " << trials << "\nworkers: " << workers
                        << "\nseed: 5\nsampler: random\n"
                        << "model:\n  hidden: \"16\"\n"
                        << "training:\n  batch: 16\n  iterations: 60\n  eval_every: 20\n"
                        << "search:\n  lr: {type: float, low: 0.0001, high: 0.2, log: true}\n";
    return file;
  }

  std::set<std::string> checkpoints() const {
    std::set<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) {
      if (e.path().extension() == ".ckpt") out.insert(e.path().filename().string());
    }
    return out;
  }

  fs::path dir_;
};

TEST_F(TuneBestWeightsTest, OneCheckpointOfTheBestTrialAndItsTestScore) {
  const fs::path study = write_study(6, 2);
  const auto r = run_krill("tune " + study.string() + " --quiet --threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;

  auto storage = krill::store::open_storage(dir_ / "best.db");
  const auto trials = storage->trials(storage->studies().at(0).id);
  ASSERT_EQ(trials.size(), 6u);
  // The best: the highest validation accuracy, the lowest number among equals.
  const krill::hpo::TrialRecord* best = nullptr;
  for (const auto& t : trials) {
    ASSERT_EQ(t.state, krill::hpo::TrialState::Completed) << t.number << ": " << t.error;
    if (!best || *t.value > *best->value) best = &t;
  }
  const std::string file = "best.db.best.trial-" + std::to_string(best->number) + ".ckpt";
  EXPECT_EQ(checkpoints(), std::set<std::string>{file});
  EXPECT_THAT(r.output, HasSubstr("best weights: " + (dir_ / file).string()));

  for (const auto& t : trials) {
    EXPECT_EQ(t.attrs.contains("test_accuracy"), t.number == best->number) << t.number;
    EXPECT_EQ(t.attrs.contains("test_loss"), t.number == best->number) << t.number;
  }
  // The test images come from the same distribution as the validation images: the trained
  // weights score alike on both (an untrained network would be near 1/3).
  const double test_accuracy = best->attrs.at("test_accuracy");
  EXPECT_NEAR(test_accuracy, *best->value, 0.1);
  EXPECT_GT(test_accuracy, 0.8);

  // Nothing left to run: the score is not measured again, the weights stay.
  const auto again = run_krill("tune " + study.string() + " --quiet --threads 1");
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(checkpoints(), std::set<std::string>{file});
  const auto after = storage->trials(storage->studies().at(0).id);
  EXPECT_EQ(after.at(static_cast<size_t>(best->number)).attrs.at("test_accuracy"), test_accuracy);
}

}  // namespace
