// Population training (DESIGN.md, "Devices and populations"): P models of one architecture
// trained in one pass. Every parameter, gradient and optimizer buffer is one tensor with a leading
// dimension P (a dense weight is [P, out, in]); activations are [P*B, features], member p's rows
// p*B .. p*B+B-1. A step is one strided-batched GEMM per product for all members plus batched
// element-wise kernels (backend.hpp's population ops), so a device runs P small trainings at the
// cost of fewer, larger launches.
//
// Each member is a trial: its own initial weights and data order (its seeds), learning rate,
// schedule, momentum, weight decay and dropout rate; its losses, accuracies and NaN check are its
// own, and member p trains exactly as train::Trainer would train its solo model (same batches, same
// kernels per member: on the CPU, bit for bit). What the members share is their group key
// (population_key): the layer list but for dropout rates, the optimizer and its fixed options, the
// batch size and the length and reporting of training. A member that diverges or is stopped by the
// report callback leaves: its slices are compacted away (the last active member's slices move
// down; member ids stay), so later steps cost less and the others go on unchanged.
//
// Every layer of nn/model_spec.hpp trains in a population, with softmax cross-entropy. Each layer
// is one backend call for all members: convolution and batch norm through the backend's
// population image ops (on the CPU the single op per member; on CUDA one im2col and
// strided-batched GEMMs, a row of blocks per member). Batch norm's running statistics are each
// member's own state, kept in its slice and moved with it. A population does not resume from a
// start_iteration.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/device.hpp"
#include "core/image_shape.hpp"
#include "core/rng.hpp"
#include "core/tensor.hpp"
#include "data/dataset.hpp"
#include "nn/model_spec.hpp"
#include "optim/adam.hpp"
#include "optim/schedule.hpp"
#include "optim/sgd.hpp"
#include "train/device_images.hpp"
#include "train/trainer.hpp"

namespace krill::train {

// One member: what a solo run of it would be given (the fields of tune::TrialConfig, plus the
// seed of its weights).
struct MemberConfig {
  nn::ModelSpec model;
  std::string optimizer = "sgd";  // "sgd" or "adam"
  optim::SgdOptions sgd;          // lr, momentum, weight_decay: the member's; nesterov: shared
  optim::AdamOptions adam;        // lr, weight_decay: the member's; betas, eps: shared
  TrainOptions train;             // schedule and seed (data order): the member's; the rest shared
  uint64_t init_seed = 0;         // nn::build_model's seed: the member's initial weights and masks
};

// What members must share to train together: equal keys, one population. The layers with dropout
// rates left out, the optimizer with its shared options, batch, epochs, iterations, eval_every and
// eval_batch.
std::string population_key(const MemberConfig& member, int classes);

// A member as a solo model: its network and optimizer (state and step count included), as a
// Trainer would have left them, e.g. for train::save_checkpoint.
struct SoloMember {
  std::unique_ptr<nn::Sequential> model;
  std::unique_ptr<optim::Optimizer> optimizer;
  double base_lr = 0;  // the learning rate before the schedule (TrainState::base_lr)
  int64_t iteration = 0;
};

// Called at each curve point of each active member (in member order, after all were evaluated);
// return false to stop that member (status Stopped).
using MemberReportCallback = std::function<bool(int member, const CurvePoint& point)>;
// Called after every step with (iterations done, total, members still training).
using PopulationStepCallback = std::function<void(int64_t, int64_t, int)>;
// Called when a member leaves before the end (diverged, or stopped by the report callback), with
// its History as fit will return it: a study can settle that trial at once.
using MemberLeaveCallback = std::function<void(int member, const History& history)>;

class Population {
 public:
  // Builds every member's weights as nn::build_model(model, input, classes, init_seed) would, and
  // puts them in their slices on `device`. Throws InvalidArgument for an empty population, a
  // member whose key differs from member 0's (naming the
  // member and both keys), or whose options the solo optimizer or Trainer would refuse, and
  // ShapeError for a model that does not fit `input` and `classes`.
  Population(std::vector<MemberConfig> members, ImageShape input, int classes,
             Device device = Device::Cpu);
  ~Population();
  Population(const Population&) = delete;
  Population& operator=(const Population&) = delete;

  void on_report(MemberReportCallback callback) { on_report_ = std::move(callback); }
  void on_step(PopulationStepCallback callback) { on_step_ = std::move(callback); }
  void on_leave(MemberLeaveCallback callback) { on_leave_ = std::move(callback); }

  // Trains every member to the end of training or until it leaves; one History per member, as
  // Trainer::fit would return it (seconds are the population's: its steps train all members).
  // `train` (and `validation`) must hold images of the population's input size with labels below
  // its classes (else ShapeError). Runs once (a second call throws Error).
  std::vector<History> fit(const data::Dataset& train, const data::Dataset* validation = nullptr);

  // PBT hooks, from the report callback (or before fit). Throw InvalidArgument for a member
  // that is not training (out of range, or gone).
  void set_base_lr(int member, double lr);  // as Trainer::set_base_lr, from the next step on
  void set_schedule(int member, optim::Schedule schedule);
  // The exploit: `to` takes `from`'s weights, optimizer state and base learning rate, and keeps
  // its own dropout streams, data order and hyperparameters (as a solo member loading its donor's
  // checkpoint does).
  void copy_member(int from, int to);
  // The exploit from bytes (another process's member, or a saved state): `member` takes the
  // weights, optimizer state and base learning rate of `checkpoint` (as checkpoint() writes it,
  // at this population's step; else DataError, and the member is unchanged), and keeps its own
  // dropout streams. Members may load at once from several threads (each its own member).
  void load_member(int member, std::span<const uint8_t> checkpoint);
  // PBT's explore of momentum and weight decay: the member's options from the next step on.
  // Throws InvalidArgument for an option members share (nesterov, Adam's betas and eps) or
  // momentum where the population keeps no momentum buffers (every member started without).
  void set_options(int member, const optim::SgdOptions& sgd, const optim::AdamOptions& adam);

  // Member `member` as a solo model, on the CPU: from its slices while it trains, else as it was
  // when it left (or at the end of training).
  SoloMember extract(int member) const;
  // The same as checkpoint bytes (train/checkpoint.hpp), as save_checkpoint of a solo run's model
  // and optimizer would write them.
  std::vector<uint8_t> checkpoint(int member) const;

  int size() const { return static_cast<int>(configs_.size()); }
  int active() const { return static_cast<int>(slot_member_.size()); }
  bool is_active(int member) const;
  double base_lr(int member) const;

 private:
  struct Layer;
  struct Parameter;
  int slot_of(int member, const char* who) const;  // throws unless the member trains
  SoloMember build_solo(int member) const;
  SoloMember solo_from_slot(int slot) const;
  // Forward over `rows` rows per member from x: [P*rows, features], or [rows, features] shared
  // by every member (evaluation). Returns the logits [P*rows, classes].
  const Tensor& forward(const float* x, bool shared, int64_t rows, nn::Mode mode);
  void backward(const Tensor& dlogits, int64_t rows);
  void update(const std::vector<float>& lrs);
  void copy_slot(int from, int to);
  void statistics_to_slot(nn::Sequential& solo, int slot);
  void statistics_from_slot(int slot, nn::Sequential& solo) const;
  void remove_slot(int slot);
  std::vector<Evaluation> evaluate(const data::Dataset& data, DeviceImages& images);
  void check_data(const data::Dataset& data, const char* what) const;

  std::vector<MemberConfig> configs_;
  ImageShape input_;
  int classes_;
  Device device_;
  int64_t features_;
  bool adam_ = false;

  std::vector<Layer> layers_;
  std::vector<Parameter> params_;
  int64_t optimizer_steps_ = 0;  // shared: every active member took every step
  int64_t iteration_ = 0;
  bool fitted_ = false;

  // Per slot (active member), compacted together: slot s trains member slot_member_[s].
  std::vector<int> slot_member_;
  std::vector<int> member_slot_;                   // -1 once gone
  std::vector<double> base_lr_;                    // per member
  std::vector<std::vector<float>> dropout_rates_;  // per member, one per dropout layer
  std::vector<std::vector<Rng>> dropout_rngs_;     // per member, one per dropout layer
  std::vector<std::vector<uint8_t>> gone_;         // per member: its checkpoint once it left
  std::vector<int64_t> gone_at_;                   // per member: its iterations when it left

  std::vector<int64_t> rows_;  // the images of a step's batches, [P*B] (DeviceImages' indices)
  Tensor batch_;               // those images [P*B, features] on the device
  std::vector<int32_t> labels_;
  std::vector<double> losses_;
  std::vector<int64_t> correct_;
  Tensor probs_, dlogits_;

  MemberReportCallback on_report_;
  PopulationStepCallback on_step_;
  MemberLeaveCallback on_leave_;
};

}  // namespace krill::train
