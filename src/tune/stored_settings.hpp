// A study's settings read back from its database. `krill tune` stores the study file's settings
// as the canonical text of StudyFile::canonical() in StudyRecord::config (hpo::Study appends its
// "stopping:" and "pbt:" lines); with them, a trial's parameters and its seed (trial_seed), the
// trial's training run can be rebuilt outside the study (`krill best`).
#pragma once

#include <cstdint>
#include <string>

#include "hpo/param.hpp"

namespace krill::tune {

struct StoredSettings {
  std::string data;         // `data:` as krill train --data (a folder, made absolute)
  double validation = 0.1;  // the fraction of the training images held out
  int64_t subset = 0;       // the first N training images only (0: all)
  uint64_t seed = 0;        // the study's seed: the train/validation split's, and trial_seed's
  std::string objective;    // val_accuracy | val_loss
  std::string sampler;      // the sampler as the study file gave it
  hpo::Params fixed;        // the values under `model:` and `training:`
  std::string stopping;     // the early-stopping rule's description ("" without one)
  std::string pbt;          // the PBT settings' description ("" without PBT)
};

// Reads StudyRecord::config. Throws DataError naming the first setting that is missing or
// unreadable ("the study's stored settings have no 'seed' line"): a study not made by
// `krill tune` (a C++ objective's) keeps other settings, or none.
StoredSettings read_stored_settings(const std::string& config);

// The seed of trial `number` of a study seeded `study_seed`: its weights' initialisation, its
// dropout and its data order (TrainingObjective; the train/validation split uses the study's).
uint64_t trial_seed(uint64_t study_seed, int64_t number);

}  // namespace krill::tune
