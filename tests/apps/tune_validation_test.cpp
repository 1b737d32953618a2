// `krill tune` fails before running: a study file whose values no trial could train with, a
// command-line override out of range, a missing data folder or an early-stopping rule that could
// never act is one line "krill: error: <file>:<line>:<column>: ..." with exit code 2, and no
// database is created.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "apps/cli_util.hpp"
#include "backend/backend.hpp"
#include "store/open.hpp"

namespace {

namespace fs = std::filesystem;
using krill::testing::run_krill;
using ::testing::HasSubstr;

class TuneValidationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = krill::testing::fresh_test_folder("krill_tune_validation");
    krill::testing::write_synthetic_data(dir_, 2000, 200);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A study of 3 short trials on the synthetic data, then `rest` (more keys, or sections).
  fs::path write_study(const std::string& rest, const std::string& data = "") const {
    const fs::path file = dir_ / "study.yaml";
    std::ofstream(file) << "study: check\n"
                        << "data: " << (data.empty() ? (dir_ / "data").string() : data) << "\n"
                        << "validation: 0.2\n"
                        << "trials: 3\n"
                        << rest;
    return file;
  }

  // Exit code 2 and exactly `message` on one line; no database beside the study file.
  void expect_refused(const krill::testing::CliResult& r, const std::string& message) const {
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_EQ(r.output, "krill: error: " + message + "\n");
    for (const auto& entry : fs::directory_iterator(dir_)) {
      EXPECT_EQ(entry.path().string().find(".db"), std::string::npos)
          << entry.path() << " was created";
    }
  }

  fs::path dir_;
};

struct BadValue {
  const char* name;
  const char* section;  // written after the top-level keys (line 5 on)
  const char* message;  // after "<file>:"
};

// Each value that makes every trial fail, and a range that makes some fail.
const BadValue kBadValues[] = {
    {"BatchZero", "training:\n  batch: 0\n", "6:10: 'batch' is '0', expected an integer >= 1"},
    {"IterationsNegative", "training:\n  iterations: -4\n",
     "6:15: 'iterations' is '-4', expected an integer >= 0"},
    {"DropoutOne", "model:\n  dropout: 1.0\n",
     "6:12: 'dropout' is '1.0', expected a number in [0, 1)"},
    {"HiddenTooWide", "model:\n  hidden: [4000000000]\n",
     "6:12: 'hidden' has a width '4000000000', expected an integer from 1 to 1048576"},
    {"LrZero", "training:\n  lr: 0\n", "6:7: 'lr' is '0', expected a number > 0"},
    {"DeviceUnknown", "device: gpu\n", "5:9: 'device' is 'gpu', expected cpu or cuda"},
    {"EvalEveryZero", "training:\n  eval_every: 0\n",
     "6:15: 'eval_every' is '0', expected an integer >= 1"},
    {"BatchRangeFromZero", "search:\n  batch: {type: int, low: 0, high: 64}\n",
     "6:27: 'low' of 'batch' is '0', expected an integer >= 1"},
    {"DropoutRangeToOne", "search:\n  dropout: {type: float, low: 0.0, high: 1.0}\n",
     "6:42: 'high' of 'dropout' is '1.0', expected a number in [0, 1)"},
    // Refused once the data is known (16 inputs, 3 classes: 16e6 + 1e6, 1e12 + 1e6, 3e6 + 3),
    // without allocating the model.
    {"ModelTooLarge", "model:\n  hidden: [1000000, 1000000]\n",
     "6:11: hidden widths 1000000,1000000 make a model of 1000021000003 parameters for 16 "
     "inputs and 3 classes (3725 GiB of float32 weights), expected at most 1073741824 "
     "parameters (4 GiB)"},
};

class TuneRefusesBadValue : public TuneValidationTest,
                            public ::testing::WithParamInterface<BadValue> {};

TEST_P(TuneRefusesBadValue, OneLineWithItsPositionAndNoDatabase) {
  const fs::path study = write_study(GetParam().section);
  expect_refused(run_krill("tune " + study.string() + " --quiet --threads 1"),
                 study.string() + ":" + GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(TuneValidation, TuneRefusesBadValue, ::testing::ValuesIn(kBadValues),
                         [](const auto& info) { return std::string(info.param.name); });

TEST_F(TuneValidationTest, TheIssuesFileIsRefusedAtItsFirstBadValue) {
  // Before: accepted, every trial failed and krill tune exited 0.
  const fs::path study = write_study(
      "training:\n  batch: 0\n  iterations: -4\nmodel:\n  dropout: 1.0\n"
      "  hidden: [4000000000]\n");
  expect_refused(run_krill("tune " + study.string() + " --quiet"),
                 study.string() + ":6:10: 'batch' is '0', expected an integer >= 1");
}

TEST_F(TuneValidationTest, OverridesOutOfRangeAreRefused) {
  const fs::path study = write_study("training:\n  iterations: 20\n");
  const std::string tune = "tune " + study.string() + " --quiet ";
  expect_refused(run_krill(tune + "--trials 0"), "--trials is 0, expected an integer >= 1");
  expect_refused(run_krill(tune + "--trials -5"), "--trials is -5, expected an integer >= 1");
  expect_refused(run_krill(tune + "--workers -1"),
                 "--workers is -1, expected an integer >= 1 (or no --workers: as many as the "
                 "cores allow)");
  expect_refused(run_krill(tune + "--workers 0"),
                 "--workers is 0, expected an integer >= 1 (or no --workers: as many as the "
                 "cores allow)");
  expect_refused(run_krill(tune + "--threads -1"),
                 "--threads is -1, expected an integer from 1 to 1024 (or 0: cores / workers)");
  // libgomp cannot start tens of thousands of threads (it failed, or crashed, before the bound).
  expect_refused(run_krill(tune + "--threads 100000"),
                 "--threads is 100000, expected an integer from 1 to 1024 (or 0: cores / "
                 "workers)");
}

// `device: cuda` (or --device cuda) where the CUDA backend cannot be had (not built, or no GPU)
// is one line naming the setting and why, before any database exists; where a GPU is at hand, the
// study runs on it.
TEST_F(TuneValidationTest, ACudaDeviceWithoutOneIsRefusedBeforeTheDatabase) {
  const fs::path study = write_study("device: cuda\ntraining:\n  iterations: 20\n");
  const std::string why = krill::backend::device_problem(krill::Device::Cuda);
  if (!why.empty()) {
    expect_refused(run_krill("tune " + study.string() + " --quiet"),
                   study.string() + ":5:9: 'device' is cuda: " + why);
    expect_refused(run_krill("tune " + study.string() + " --quiet --device cuda"),
                   "--device cuda: " + why);
  } else {
    const auto r = run_krill("tune " + study.string() + " --quiet --trials 2 --workers 1");
    EXPECT_EQ(r.exit_code, 0) << r.output;
  }
  // --device cpu overrides the file: the study runs.
  const auto r = run_krill("tune " + study.string() + " --quiet --trials 2 --device cpu");
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST_F(TuneValidationTest, AnUnknownDeviceOptionIsRefused) {
  const fs::path study = write_study("training:\n  iterations: 20\n");
  expect_refused(run_krill("tune " + study.string() + " --quiet --device gpu"),
                 "--device is 'gpu', expected cpu or cuda");
}

TEST_F(TuneValidationTest, OverridesGivenTakeEffect) {
  const fs::path study = write_study("workers: 2\ntraining:\n  iterations: 20\n");
  auto r = run_krill("tune " + study.string() + " --trials 2 --workers 1 --threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("(0 of 2 trials done), 1 worker x 1 thread"));
  auto storage = krill::store::open_storage(dir_ / "check.db");
  EXPECT_EQ(storage->trials(storage->studies().at(0).id).size(), 2u);
}

TEST_F(TuneValidationTest, AMissingDataFolderIsReportedBeforeTheDatabaseIsCreated) {
  const fs::path study = write_study("training:\n  iterations: 20\n", "/no/such/folder");
  expect_refused(run_krill("tune " + study.string() + " --quiet"),
                 study.string() +
                     ":2:7: 'data' is '/no/such/folder': no such folder, expected fashion-mnist, "
                     "mnist or a folder of IDX files");
  // The corrected file is a new study, not one refused for "other settings".
  write_study("training:\n  iterations: 20\n");
  auto r = run_krill("tune " + study.string() + " --quiet --threads 1");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(fs::exists(dir_ / "check.db"));
}

TEST_F(TuneValidationTest, AStoppingRuleThatCanNeverActIsRefused) {
  // 1,500 images, 20% held out: 1,200 to train on, 150 batches of 8 per epoch, a point per
  // epoch: steps 150 and 300. LCM's checkpoints 100 and 200 are never a reporting step.
  const fs::path study = write_study(
      "subset: 1500\ntraining:\n  batch: 8\n  epochs: 2\n"
      "stopping:\n  rule: lcm\n  accumulate: 2\n  checkpoints: [100, 200]\n");
  expect_refused(run_krill("tune " + study.string() + " --quiet"),
                 study.string() +
                     ":12:16: checkpoints 100 and 200 are never reached before a trial's last "
                     "step (no rule stops a trial that has trained its whole length), so lcm "
                     "would never act: trials report at steps 150 and 300 (one per epoch of 150 "
                     "batches, the last at step 300), expected checkpoints among these steps, "
                     "before the last");
  // --trials counts: lcm decides once `accumulate` trials are complete.
  write_study(
      "subset: 1500\ntraining:\n  batch: 8\n  epochs: 2\n"
      "stopping:\n  rule: lcm\n  accumulate: 2\n  checkpoints: [150, 300]\n");
  expect_refused(run_krill("tune " + study.string() + " --quiet --trials 2"),
                 study.string() +
                     ":11:15: 'accumulate' is 2 and the study has 2 trials: lcm decides once that "
                     "many trials are complete, so it would never act, expected accumulate below "
                     "the number of trials");
}

}  // namespace
