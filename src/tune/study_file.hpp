// Study files: a tuning study written in YAML (docs/STUDY-FILE.md), parsed with yaml-cpp into a
// StudyFile. Every error names the file, the line and column, and what was expected; an unknown
// key suggests the nearest known one.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "core/device.hpp"
#include "hpo/param.hpp"
#include "hpo/sampler.hpp"
#include "hpo/search_space.hpp"
#include "hpo/storage.hpp"
#include "tune/pbt_config.hpp"
#include "tune/stopping_config.hpp"

namespace krill::tune {

struct StudyFile {
  std::filesystem::path path;          // the file itself (empty when parsed from text)
  std::string name;                    // `study:`; default: the file's stem
  std::filesystem::path storage;       // `storage:`; relative paths are relative to the file's
                                       // folder; default: <name>.db beside the file
  std::string data = "fashion-mnist";  // `data:` as krill train --data
  double validation = 0.1;             // `validation:` fraction held out of the training set
  int64_t subset = 0;                  // `subset:` use only the first N training images (0: all)
  std::string objective = "val_accuracy";               // `objective:` val_accuracy | val_loss
  hpo::Direction direction = hpo::Direction::Maximize;  // implied by the objective
  int64_t trials = 20;                                  // `trials:`
  int workers = 0;    // `workers:` trials at once (0: as many as the cores allow)
  uint64_t seed = 0;  // `seed:`
  // `device:` cpu | cuda, where trials train; like workers, not a setting that defines the study
  // (a study may be resumed on another device).
  Device device = Device::Cpu;
  // `population:` auto | N: how many trials of one architecture train together in batched
  // kernels (train/population.hpp); 1: one at a time. 0 (auto): the device's choice, 64 on cuda
  // and 1 on the CPU, where it was measured not to pay (docs/BENCHMARKS.md). A run setting too.
  int population = 0;
  // `sampler:` random | sobol | grid | tpe | evolution, or a map with `name:` and the options of
  // tpe or evolution; its direction is the objective's.
  hpo::SamplerConfig sampler;
  hpo::Params fixed;             // values under `model:` and `training:`, by parameter name
  hpo::SearchSpace space;        // `search:`
  StoppingConfig stopping;       // `stopping:` early stopping (default: none)
  std::optional<PbtConfig> pbt;  // `pbt:` Population Based Training (default: none); then
                                 // `trials` is the population, `workers` at least as many
  // "<file>:<line>:<column>: " of each top-level key's value ("data", "trials", ...) and of each
  // parameter (its fixed value, or its key under search:), for the checks made once the data is
  // known (check_study_data in trainable.hpp).
  std::map<std::string, std::string> positions;

  std::string where(const std::string& key) const;  // positions[key], else "<file>: " (or "")

  // The settings that define the study (everything but its name, trials, workers and storage),
  // as canonical text: a resumed study must have the same. Not the name, which is the study's
  // key: a study renamed or copied under another name (`krill study`) resumes under that name.
  std::string canonical() const;
};

// Throws krill::InvalidArgument "<file>:<line>:<column>: <what>, expected <what>" (or
// DataError when the file cannot be read).
StudyFile load_study_file(const std::filesystem::path& file);
// `source` names the text in errors.
StudyFile parse_study_file(const std::string& yaml_text, const std::string& source);

}  // namespace krill::tune
