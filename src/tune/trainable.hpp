// The glue between a study and the training engine: a trial's parameters (the study file's fixed
// values overlaid with the sampled ones) become a model, an optimizer, a schedule and training
// options; a training run becomes an hpo::Objective that reports its learning curve to the trial
// and returns the validation metric. hpo never sees a tensor; train never sees a trial.
#pragma once

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

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
  nn::ModelSpec model;  // `layers` (its template filled in) or the shorthand's parameters
  std::string optimizer = "sgd";
  optim::SgdOptions sgd;
  optim::AdamOptions adam;
  train::TrainOptions train;
};

// Every value is checked against its parameter's rule (params.hpp), the one the study file was
// checked against when it was loaded; throws InvalidArgument naming the parameter and what was
// expected (a value out of range makes a failed trial, not a crashed study). The model is
// `layers` with its template filled in from `params` (tune/model_template.hpp), or else the MLP
// of `hidden` or `width` and `depth`, `activation` and `dropout`. Names that are not training
// parameters are the study's own (a template's, a condition's parent) and are left to them.
TrialConfig make_config(const hpo::Params& params);

// "" when `model` can be built for images of shape `input` and `classes` classes and fits
// kMaxModelParameters (params.hpp), else what is wrong: the layer whose shapes do not fit, or
// the model's size. Computed without allocating anything.
std::string model_problem(const nn::ModelSpec& model, ImageShape input, int64_t classes);

// "" unless `train_size` images at `batch` leave a batch of one image (a batch of 1, one image,
// or the last batch of an epoch, when training of `iterations` steps, 0 for whole epochs, gets
// there) where `model` has a batch norm over flat features
// (or 1x1 images), which cannot normalise a single value: then the layer and the batch, said
// before training rather than at the epoch's end (as PyTorch's "Expected more than 1 value per
// channel when training").
std::string batch_problem(const nn::ModelSpec& model, ImageShape input, int64_t classes,
                          int64_t train_size, int64_t batch, int64_t iterations);

// The network and optimizer of a configuration, initialised from `seed`: the one path from
// parameters to a model, taken by a study's trials and by `krill train`. Throws InvalidArgument
// with model_problem's text before allocating anything.
struct ModelAndOptimizer {
  std::unique_ptr<nn::Sequential> model;
  std::unique_ptr<optim::Optimizer> optimizer;
};
ModelAndOptimizer build_model_and_optimizer(const TrialConfig& config, ImageShape input,
                                            int classes, uint64_t seed);

// The data of a study, loaded once and shared (read-only) by every trial and thread.
struct StudyData {
  data::Dataset train;
  data::Dataset validation;
  data::Dataset test;
};
// Errors (a missing folder, a bad IDX file) start with the position of `data:` in the study file.
// With `with_train` false only the test set is read, and the training labels for the class count
// (train and validation stay empty): the MPI manager scores the best trial and trains none.
std::shared_ptr<const StudyData> load_study_data(const StudyFile& file, bool with_train = true);

// What the checks of a study that need its data know of it.
struct DataShape {
  int64_t train = 0;       // training images (after subset and the validation split)
  int64_t validation = 0;  // validation images
  int64_t features = 0;    // inputs per image
  int64_t classes = 0;
  ImageShape image;  // [C, H, W] of an image (features = C * H * W)
};
DataShape shape_of(const StudyData& data);

// The steps at which the study's trials report, from the batch, epochs, iterations and eval_every
// each configuration of its search space can have; nullopt when that is more than 100,000
// configurations. InvalidArgument at `epochs` for more steps than an int64 counts.
std::optional<ReportSteps> report_steps(const StudyFile& file, int64_t train_size);

// The checks of a study that need its data, made before anything runs (and before its database
// is opened): both the training and the validation set hold images, every model the search space
// can propose has at most kMaxModelParameters (params.hpp), and the early-stopping rule can act
// with `file.trials` trials at the steps they report at (check_stopping_acts). Throws
// InvalidArgument at the position of the setting in the study file.
void check_study_data(const StudyFile& file, const DataShape& data);
// Part of check_study_data for a PBT study: every trial reports at each multiple of the interval
// (a multiple of eval_every, or of the batches per epoch without one), and trains longer than one
// interval. Throws InvalidArgument at `pbt.interval` in the study file.
void check_pbt_acts(const StudyFile& file, const ReportSteps& steps);

// Trains one network per trial and returns its validation metric. Attributes stored with each
// trial: iterations, train_seconds, val_accuracy, val_loss; resumed_step for a PBT member that
// resumed from its saved state. The weights of the best trial so far
// are kept as a checkpoint, `<prefix>.trial-<N>.ckpt` (study_files.hpp; the previous best's file
// is removed), so that the test set is scored once, for the best trial only (test_best), as a
// user would. Among trials of equal value the lowest number is the best, as in
// hpo::Study::best_trial(), whatever order they finish in.
//
// Population training (train/population.hpp): as an hpo::GroupObjective, trials whose models are
// dense and share their group key (layers, optimizer, batch, length of training) train together,
// in batched kernels, each exactly as it would alone (on the CPU, bit for bit): the executor hands
// them over with LocalOptions::population.
class TrainingObjective final : public hpo::GroupObjective {
 public:
  // `checkpoint_prefix`: where the best weights go, study_files_prefix(storage, study) (empty:
  // nowhere). `best_so_far`: the value of the study's best trial when resuming; `best_number`:
  // its number (-1 if unknown), so that its checkpoint is removed when a better trial replaces it.
  TrainingObjective(const StudyFile& file, std::shared_ptr<const StudyData> data,
                    std::filesystem::path checkpoint_prefix, std::optional<double> best_so_far,
                    int64_t best_number = -1);
  ~TrainingObjective() override;
  TrainingObjective(const TrainingObjective&) = delete;
  TrainingObjective& operator=(const TrainingObjective&) = delete;

  double operator()(hpo::Trial& trial);
  hpo::Objective objective() {
    return [this](hpo::Trial& t) { return (*this)(t); };
  }
  std::filesystem::path checkpoint_of(int64_t number) const;

  // hpo::GroupObjective: the population key of the trial's model and training ("" when its model
  // cannot train in a population, or its parameters make no valid configuration), and the
  // population's training run.
  std::string group(int64_t number, const hpo::Params& params) const override;
  void run(const std::vector<hpo::Trial*>& trials, const Finish& finish) override;
  // A PBT study's member state files, `<storage>.<study>.member-<N>.step-<S>.state` (of the study
  // file's storage and name; empty for a study without PBT or with in-memory storage): a member
  // writes its state when it starts (step 0) and after each generation's decision, keeps its last
  // two and removes them when it ends.
  std::filesystem::path member_state_of(int64_t number, int64_t step) const;
  // The generation every re-queued member of a killed run resumes from, so that all restart from
  // one consistent cut: the earliest of the members' latest states (0: from the start; members
  // that ended have none). Members can be one generation apart when a run dies (one saved its
  // state at step s + interval, another had not yet saved s + interval), and every member still
  // has its state at that step (it keeps two). Found once, when the first member asks.
  int64_t member_resume_step() const;
  // The steps done and planned, summed over the trials running now: for a progress line (read
  // from any thread).
  struct Steps {
    int64_t done = 0;
    int64_t planned = 0;
  };
  Steps running_steps() const;

  // Distributed studies (exec/mpi): a worker rank keeps each Completed trial's model in memory
  // (keep_weights_in_memory) until the executor asks for it: take_weights(n, true) returns its
  // checkpoint bytes (serialized only then: the manager wants the best trial's alone), and
  // take_weights(n, false) forgets it. The manager, which has the checkpoint prefix, asks whether
  // a trial's weights would be the best (wants_weights) and writes those it receives
  // (keep_weights: when the trial is still the best; the previous best's file goes).
  void keep_weights_in_memory() { in_memory_ = true; }
  std::vector<uint8_t> take_weights(int64_t number, bool wanted);
  bool wants_weights(int64_t number, double value);
  void keep_weights(int64_t number, double value, std::span<const uint8_t> bytes);
  // Scores the saved weights of trial `best` on the test set; nullopt when its checkpoint is
  // missing (removed by hand).
  std::optional<train::Evaluation> test_best(const hpo::TrialRecord& best) const;

 private:
  struct Run;
  class Member;
  class PopulationMember;
  Run build(const hpo::Params& all, uint64_t seed) const;
  bool better(double a, double b) const { return maximize_ ? a > b : a < b; }
  // A curve point to the trial: its value (the objective's metric) and metrics; false: stop.
  bool report_point(hpo::Trial& trial, const train::CurvePoint& p, bool last) const;
  bool replaces_best(double value, int64_t number) const;  // with mutex_ held
  // Writes the checkpoint of the new best and removes the previous best's; mutex_ held.
  void keep_locked(int64_t number, double value, std::span<const uint8_t> bytes);

  hpo::Params fixed_;
  uint64_t seed_;
  Device device_;
  bool maximize_;
  std::shared_ptr<const StudyData> data_;
  std::filesystem::path prefix_;
  std::filesystem::path member_prefix_;  // PBT member states (empty: none)
  int64_t pbt_interval_ = 0;
  mutable std::optional<int64_t> resume_step_;  // member_resume_step(), once found (mutex_)
  // Writes member `number`'s state at `step` and removes its states before the previous one.
  void save_member_state(int64_t number, int64_t step, std::span<const uint8_t> bytes) const;
  void remove_member_states(int64_t number) const;  // a member that ends no longer resumes
  mutable std::mutex mutex_;
  struct Running {  // a running trial's steps: `done` written by its thread at every step
    std::atomic<int64_t> done{0};
    int64_t planned = 0;
  };
  std::map<int64_t, std::unique_ptr<Running>> running_;  // erased when the trial ends
  std::optional<double> best_;
  int64_t best_number_ = -1;
  bool in_memory_ = false;
  struct Kept;
  std::map<int64_t, std::unique_ptr<Kept>> kept_;  // by trial, until taken (in_memory_)
};

}  // namespace krill::tune
