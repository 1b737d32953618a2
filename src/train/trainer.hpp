// Trainer: the training loop. It runs a model, an optimizer and a loss over a data set for a
// number of epochs or iterations, applies the learning-rate schedule at every step, and keeps the
// learning curve (train loss, validation loss and accuracy at fixed iteration intervals) as data,
// for early-stopping rules and PBT to consume. A callback at each curve point may stop the run, or
// change the base learning rate and the schedule (PBT); a
// NaN/Inf loss ends it as *diverged* with the iteration where it happened.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "data/dataset.hpp"
#include "nn/losses.hpp"
#include "nn/module.hpp"
#include "optim/optimizer.hpp"
#include "optim/schedule.hpp"
#include "train/device_images.hpp"

namespace krill::train {

struct TrainOptions {
  int64_t epochs = 1;
  int64_t iterations = 0;  // > 0: train exactly this many steps instead of `epochs` epochs
  int64_t batch = 32;
  optim::Schedule schedule = optim::Constant{};
  int64_t eval_every = 0;       // a curve point every N iterations; 0: at the end of each epoch
  int64_t eval_batch = 1000;    // rows per forward pass when evaluating
  uint64_t seed = 0;            // data order; epoch e uses Rng::derive(seed, e)
  int64_t start_iteration = 0;  // resume: skip this many steps (data order stays exact)
  // The model's device. The data set's images are put there once (DeviceImages) and each batch
  // is gathered there from its image indices.
  Device device = Device::Cpu;
};

struct CurvePoint {
  int64_t iteration = 0;    // steps done
  double epoch = 0;         // iteration / batches per epoch
  double train_loss = 0;    // mean training loss since the previous point
  double val_loss = 0;      // NaN when there is no validation set
  double val_accuracy = 0;  // NaN when there is no validation set
  double lr = 0;            // learning rate of the last step
  double seconds = 0;       // training time so far (evaluation excluded)
};

struct Evaluation {
  double loss = 0;
  double accuracy = 0;
  int64_t count = 0;
};

enum class RunStatus { Completed, Stopped, Diverged };
std::string to_string(RunStatus status);

struct History {
  RunStatus status = RunStatus::Completed;
  int64_t iterations = 0;        // steps done (including start_iteration)
  int64_t total_iterations = 0;  // steps planned
  int64_t diverged_at = -1;      // the step whose loss was not finite
  std::vector<CurvePoint> curve;
  double train_seconds = 0;
  // Mean over the last curve interval; NaN before the first curve point (a divergence there).
  double final_train_loss = std::numeric_limits<double>::quiet_NaN();
  std::optional<Evaluation> validation;  // at the end
};

// The last step can leave the weights non-finite with its own loss finite (a huge weight decay):
// the model then evaluates to NaN. A run whose final validation loss is not finite is Diverged at
// its last iteration (its validation dropped), as a step's loss that is not finite makes it; the
// Trainer and the population both apply it.
void mark_diverged_weights(History& h);

// Called at each curve point; return false to stop training (status Stopped).
using ReportCallback = std::function<bool(const CurvePoint&)>;
// Called after every step with (iterations done, total, loss of this step): progress bars.
using StepCallback = std::function<void(int64_t, int64_t, double)>;

class Trainer {
 public:
  explicit Trainer(TrainOptions options);  // throws InvalidArgument for bad options

  void on_report(ReportCallback callback) { on_report_ = std::move(callback); }
  void on_step(StepCallback callback) { on_step_ = std::move(callback); }
  // During fit() (from a callback): the learning rate before the schedule from the next step on,
  // and the schedule itself. PBT sets them: its learning rate replaces the schedule's base rate
  // (the schedule's factor at the step still applies), and holds to the end of the run.
  void set_base_lr(double lr);  // throws InvalidArgument for lr < 0 or not finite
  double base_lr() const { return base_lr_; }
  void set_schedule(optim::Schedule schedule) { options_.schedule = std::move(schedule); }

  History fit(nn::Module& model, optim::Optimizer& optimizer, nn::Loss& loss,
              const data::Dataset& train, const data::Dataset* validation = nullptr);

  int64_t total_iterations(const data::Dataset& train) const;
  const TrainOptions& options() const { return options_; }

 private:
  TrainOptions options_;
  double base_lr_ = 0;
  ReportCallback on_report_;
  StepCallback on_step_;
};

// Mean loss and accuracy of `model` on `data`, in evaluation mode.
// `device`: the model's (data's images are put there for the call: DeviceImages).
Evaluation evaluate(nn::Module& model, nn::Loss& loss, const data::Dataset& data,
                    int64_t batch = 1000, Device device = Device::Cpu);
// The same with data's images already where the model reads them (`images` must hold
// data.storage(), else InvalidArgument): what Trainer::fit uses at each curve point.
Evaluation evaluate(nn::Module& model, nn::Loss& loss, const data::Dataset& data, int64_t batch,
                    DeviceImages& images);

}  // namespace krill::train
