// The glue between a study and the training engine: a trial's parameters (the study file's fixed
// values overlaid with the sampled ones) become a model, an optimizer, a schedule and training
// options; a training run becomes an hpo::Objective that reports its learning curve to the trial
// and returns the validation metric. hpo never sees a tensor; train never sees a trial.
#pragma once

#include <memory>
#include <string>

#include "data/dataset.hpp"
#include "hpo/param.hpp"
#include "hpo/study.hpp"
#include "nn/model_spec.hpp"
#include "optim/adam.hpp"
#include "optim/sgd.hpp"
#include "train/trainer.hpp"
#include "tune/study_file.hpp"

namespace krill::tune {

struct TrialConfig {
  nn::ModelSpec model;
  std::string optimizer = "sgd";
  optim::SgdOptions sgd;
  optim::AdamOptions adam;
  train::TrainOptions train;
};

// Throws InvalidArgument naming the parameter and the expected range (an out-of-range sampled
// value makes a failed trial, not a crashed study).
TrialConfig make_config(const hpo::Params& params);

// The data of a study, loaded once and shared (read-only) by every trial and thread.
struct StudyData {
  data::Dataset train;
  data::Dataset validation;
  data::Dataset test;
};
std::shared_ptr<const StudyData> load_study_data(const StudyFile& file);

// Trains one network per trial. Attributes stored with each trial: iterations, train_seconds,
// val_accuracy, val_loss, test_accuracy, test_loss.
hpo::Objective training_objective(const StudyFile& file, std::shared_ptr<const StudyData> data);

}  // namespace krill::tune
