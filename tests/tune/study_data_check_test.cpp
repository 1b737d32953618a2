// The checks krill tune makes once a study's data is loaded and before its database is opened
// (check_study_data): the data left for training and validation, the size of every model the
// search space can propose, and the steps trials report at; and the data folder's errors, which
// point at `data:` in the study file.
#include "tune/trainable.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/error.hpp"
#include "nn/model_spec.hpp"

namespace krill::tune {
namespace {

namespace fs = std::filesystem;

const DataShape kData{
    .train = 8000, .validation = 2000, .features = 784, .classes = 10, .image = {1, 28, 28}};

std::string error_of(const std::string& yaml, const DataShape& data = kData) {
  try {
    check_study_data(parse_study_file(yaml, "s.yaml"), data);
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "(accepted)";
}

TEST(CheckStudyData, LayersMustFitTheImages) {
  EXPECT_EQ(
      error_of("data: mnist\ntrials: 4\nmodel:\n"
               "  layers: \"conv:8:5,maxpool:2,conv:8:5,maxpool:2,conv:8:5,flatten,dense:10\"\n"),
      "s.yaml:4:11: model 'conv:8:5,maxpool:2,conv:8:5,maxpool:2,conv:8:5,flatten,dense:10': "
      "layer 5 'conv:8:5' has a 5x5 window, larger than its input [8, 4, 4]");
  // Each choice of a searched `layers` is a model a trial may build.
  EXPECT_EQ(error_of("data: mnist\ntrials: 4\nsearch:\n  layers: {type: choice, values: "
                     "[\"flatten,dense:10\", \"flatten,dense:1048576,dense:1048576,dense:10\"]}\n"),
            "s.yaml:4:3: layers flatten,dense:1048576,dense:1048576,dense:10 make a model of "
            "1100346294282 parameters for images [1, 28, 28] and 10 classes (4099 GiB of float32 "
            "weights), expected at most 1073741824 parameters (4 GiB)");
  EXPECT_EQ(error_of("data: mnist\ntrials: 4\nmodel:\n  layers: \"flatten,dense:8\"\n"),
            "s.yaml:4:11: model 'flatten,dense:8': layer 2 'dense:8' ends the model with 8 flat "
            "features, expected 10 outputs, one per class of labels 0 to 9 (end with flatten and "
            "dense:10, or a "
            "dense:N with more)");
  EXPECT_EQ(error_of("data: mnist\ntrials: 4\nmodel:\n  layers: \"flatten,dense:12\"\n"),
            "(accepted)");  // outputs for 12 classes; the data's 10 use 10 of them
  EXPECT_EQ(
      error_of(
          "data: mnist\ntrials: 4\nmodel:\n"
          "  layers: \"conv:32:5,relu,maxpool:2,conv:64:5,relu,maxpool:2,flatten,dense:10\"\n"),
      "(accepted)");
}

// A layer whose output (or a convolution's unfolded input) for one image is over 2^28 values:
// the padding of 1000 below made 4.2e9 (16 GiB an image), which ended in std::bad_alloc.
TEST(CheckStudyData, LayersHoldingTooManyValuesAnImageAreRefused) {
  EXPECT_EQ(error_of("data: mnist\ntrials: 4\nmodel:\n"
                     "  layers: \"conv:1024:1:1:1000,avgpool:1024,flatten,dense:10\"\n"),
            "s.yaml:4:11: layers conv:1024:1:1:1000,avgpool:1024,flatten,dense:10: layer 1 "
            "'conv:1024:1:1:1000' holds 4.21e+09 values an image (16 GiB of float32, times the "
            "batch), expected at most 268435456 (1 GiB an image)");
  // The unfolded input of a convolution: 64 channels x 11 x 11 taps x 196 x 196 = 2.97e8 (its
  // input, 64 x 206 x 206, and its output, 196 x 196, are small).
  EXPECT_THAT(error_of("data: mnist\ntrials: 4\nmodel:\n"
                       "  layers: \"conv:64:3:1:90,conv:1:11:1:0,flatten,dense:10\"\n"),
              ::testing::HasSubstr(
                  "layer 2 'conv:1:11' holds 2.97e+08 values an image (1.1 GiB of float32"));
  // Just under: 2^28 values exactly (1024 filters x 512 x 512, from 28 + 2 x 242).
  EXPECT_EQ(error_of("data: mnist\ntrials: 4\nmodel:\n"
                     "  layers: \"conv:1024:1:1:242,avgpool:512,flatten,dense:10\"\n"),
            "(accepted)");
}

TEST(CheckStudyData, ModelsTooLargeToAllocateAreRefused) {
  EXPECT_EQ(error_of("data: mnist\ntrials: 4\nmodel:\n  hidden: [1000000, 1000000]\n"),
            "s.yaml:4:11: hidden widths 1000000,1000000 make a model of 1000796000010 parameters "
            "for 784 inputs and 10 classes (3728 GiB of float32 weights), expected at most "
            "1073741824 parameters (4 GiB)");
  // Every value of a searched `hidden` is a model a trial may build.
  EXPECT_EQ(error_of("data: mnist\ntrials: 4\nsearch:\n"
                     "  hidden: {type: choice, values: [[64], [500000, 5000]]}\n"),
            "s.yaml:4:3: hidden widths 500000,5000 make a model of 2892555010 parameters for 784 "
            "inputs and 10 classes (11 GiB of float32 weights), expected at most 1073741824 "
            "parameters (4 GiB)");
  // width x depth: the largest of each range.
  EXPECT_EQ(error_of("data: mnist\ntrials: 4\nsearch:\n"
                     "  width: {type: int, low: 16, high: 100000, log: true}\n"
                     "  depth: {type: int, low: 1, high: 4}\n"),
            "s.yaml:4:3: hidden widths 4 layers of 100000 make a model of 30079800010 parameters "
            "for 784 inputs and 10 classes (112 GiB of float32 weights), expected at most "
            "1073741824 parameters (4 GiB)");
  EXPECT_EQ(error_of("data: mnist\ntrials: 4\nmodel:\n  depth: 3\nsearch:\n"
                     "  width: {type: choice, values: [64, 100000]}\n"),
            "s.yaml:6:3: hidden widths 100000,100000,100000 make a model of 20079700010 "
            "parameters for 784 inputs and 10 classes (75 GiB of float32 weights), expected at "
            "most 1073741824 parameters (4 GiB)");
  // The inputs count: the default 512,256 on images of 2048x2048.
  EXPECT_EQ(error_of("data: mnist\ntrials: 4\n", {.train = 10,
                                                  .validation = 10,
                                                  .features = 2048 * 2048,
                                                  .classes = 10,
                                                  .image = {1, 2048, 2048}}),
            "s.yaml:1:7: hidden widths 512,256 make a model of 2147618058 parameters for 4194304 "
            "inputs and 10 classes (8.0 GiB of float32 weights), expected at most 1073741824 "
            "parameters (4 GiB)");
  EXPECT_EQ(error_of("data: mnist\ntrials: 4\nmodel:\n  hidden: [1048576]\n"), "(accepted)");
}

TEST(CheckStudyData, BothSetsMustHoldImages) {
  EXPECT_EQ(
      error_of("data: mnist\ntrials: 4\nsubset: 4\nvalidation: 0.1\n",
               {.train = 4, .validation = 0, .features = 784, .classes = 10, .image = {1, 28, 28}}),
      "s.yaml:3:9: the data leaves 4 training and 0 validation images (subset 4, validation "
      "0.1), expected at least one of each");
  // Neither line in the file: at `data` (it had no position); no images at all: at `data` too.
  EXPECT_THAT(
      error_of("data: mnist\ntrials: 4\n",
               {.train = 1, .validation = 0, .features = 784, .classes = 10, .image = {1, 28, 28}}),
      ::testing::StartsWith("s.yaml:1:7: the data leaves 1 training and 0 validation"));
  EXPECT_THAT(
      error_of("data: mnist\ntrials: 4\nvalidation: 0.1\n",
               {.train = 0, .validation = 0, .features = 784, .classes = 10, .image = {1, 28, 28}}),
      ::testing::StartsWith("s.yaml:1:7: the data leaves 0 training and 0 validation"));
}

TEST(CheckStudyData, ReportStepsFollowTheTrainer) {
  const StudyFile file = parse_study_file(
      "data: mnist\ntrials: 4\ntraining:\n  epochs: 3\nsearch:\n"
      "  batch: {type: choice, values: [64, 100]}\n",
      "s.yaml");
  const auto steps = report_steps(file, 8000);
  ASSERT_TRUE(steps);
  EXPECT_TRUE(steps->each_epoch);
  EXPECT_TRUE(steps->every.empty());
  // ceil(8000 / 64) = 125 and 80 batches per epoch, 3 epochs.
  EXPECT_EQ(steps->runs, (std::vector<ReportSteps::Run>{{.last = 240, .per_epoch = 80},
                                                        {.last = 375, .per_epoch = 125}}));
  EXPECT_EQ(steps->last(), 375);
  EXPECT_TRUE(steps->reaches(80));
  EXPECT_TRUE(steps->reaches(250));
  EXPECT_TRUE(steps->reaches(375));
  EXPECT_FALSE(steps->reaches(100));
  EXPECT_FALSE(steps->reaches(400));  // past every run
  EXPECT_EQ(steps->describe(),
            "once per epoch of 80 to 125 batches and at their last step, 240 to 375");
}

// More steps than an int64 counts: refused at `epochs` (the trainer's count wrapped, to trials
// that trained a few steps, or none, and said "completed").
TEST(CheckStudyData, EpochsOfMoreStepsThanCanBeCountedAreRefused) {
  // 8000 images at batch 32: 250 batches an epoch.
  EXPECT_EQ(error_of("data: mnist\ntrials: 4\ntraining:\n  epochs: 9223372036854775807\n"),
            "s.yaml:4:11: 9223372036854775807 epochs of 250 batches (8000 training images, batch "
            "32) are more steps than can be counted (at most 9223372036854775807), expected fewer "
            "epochs");
  EXPECT_THAT(error_of("data: mnist\ntrials: 4\nsearch:\n"
                       "  epochs: {type: choice, values: [2, 36893488147419104]}\n"),
              ::testing::StartsWith("s.yaml:4:3: 36893488147419104 epochs of 250 batches"));
  EXPECT_EQ(error_of("data: mnist\ntrials: 4\ntraining:\n  epochs: 36893488147419103\n"),
            "(accepted)");  // 250 x that is 9223372036854775750
}

TEST(CheckStudyData, AConditionalDimensionsDefaultCountsWhereItIsAbsent) {
  // Adam's trials have no batch of their own: they train with the default, 32.
  const StudyFile file = parse_study_file(
      "data: mnist\ntrials: 4\nsearch:\n  optimizer: {type: choice, values: [sgd, adam]}\n"
      "  batch: {type: choice, values: [100], when: {optimizer: sgd}}\n",
      "s.yaml");
  const auto steps = report_steps(file, 8000);
  ASSERT_TRUE(steps);
  EXPECT_EQ(steps->runs, (std::vector<ReportSteps::Run>{{.last = 80, .per_epoch = 80},
                                                        {.last = 250, .per_epoch = 250}}));
}

// A batch of one image where a batch norm normalises flat features failed at that step (the
// last of the first epoch), naming neither the batch nor the data; it is said before training.
TEST(BatchProblem, ABatchOfOneImageForAFlatBatchNormIsSaidBeforeTraining) {
  const nn::ModelSpec flat = nn::parse_model_spec("flatten,dense:32,batchnorm,relu,dense:10");
  const ImageShape mnist{1, 28, 28};
  // 900 images at batch 31: 29 batches of 31 and one of 1.
  EXPECT_EQ(batch_problem(flat, mnist, 10, 900, 31, 0),
            "layer 3 'batchnorm' normalises each feature over a batch, but the last batch of each "
            "epoch holds 1 image (900 training images, batch 31): expected batches of at least 2 "
            "images (a batch size that leaves more than 1)");
  EXPECT_EQ(batch_problem(flat, mnist, 10, 900, 30, 0), "");   // 30 batches of 30
  EXPECT_EQ(batch_problem(flat, mnist, 10, 900, 32, 0), "");   // the last holds 4
  EXPECT_EQ(batch_problem(flat, mnist, 10, 900, 31, 29), "");  // training ends before it
  EXPECT_NE(batch_problem(flat, mnist, 10, 900, 31, 30), "");
  EXPECT_THAT(batch_problem(flat, mnist, 10, 900, 1, 5),
              ::testing::HasSubstr("but every batch holds 1 image"));
  EXPECT_THAT(batch_problem(flat, mnist, 10, 1, 32, 0),
              ::testing::HasSubstr("but the training set holds 1 image: expected at least 2"));
  // A batch norm over images normalises batch x rows x cols values a channel; none: no problem.
  const nn::ModelSpec conv = nn::parse_model_spec("conv:4:3,batchnorm,relu,flatten,dense:10");
  EXPECT_EQ(batch_problem(conv, mnist, 10, 900, 1, 0), "");
  EXPECT_EQ(batch_problem(nn::parse_model_spec("mlp:32"), mnist, 10, 900, 1, 0), "");
  // ... unless the images are 1x1 by then.
  EXPECT_NE(batch_problem(nn::parse_model_spec("conv:4:28,batchnorm,flatten,dense:10"), mnist, 10,
                          900, 1, 0),
            "");
}

TEST(LoadStudyData, AMissingFolderIsReportedAtItsKey) {
  const fs::path dir = fs::temp_directory_path() / "krill_trainable_test";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path file = dir / "study.yaml";
  std::ofstream(file) << "study: s\ntrials: 3\ndata: /no/such/folder\n";
  try {
    load_study_data(load_study_file(file));
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()), file.string() +
                                         ":3:7: 'data' is '/no/such/folder': no such folder, "
                                         "expected fashion-mnist, mnist or a folder of IDX files");
  }
  // A folder without the IDX files: the reader's message, after the position.
  std::ofstream(file) << "study: s\ntrials: 3\ndata: .\n";
  try {
    load_study_data(load_study_file(file));
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()).rfind(file.string() + ":3:7: ", 0), 0u) << e.what();
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace krill::tune
