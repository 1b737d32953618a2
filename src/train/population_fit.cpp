// Population::fit: Trainer::fit's loop, for every active member at once (population.hpp).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <limits>

#include "backend/backend.hpp"
#include "core/error.hpp"
#include "data/loader.hpp"
#include "train/checkpoint.hpp"
#include "train/device_images.hpp"
#include "train/population.hpp"

namespace krill::train {

namespace {
using Clock = std::chrono::steady_clock;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}
}  // namespace

void Population::check_data(const data::Dataset& data, const char* what) const {
  if (data.size() == 0) return;
  if (data.features() != features_ || data.classes() > classes_) {
    throw ShapeError(std::string("population: the ") + what + " set holds images of " +
                     std::to_string(data.features()) + " values in " +
                     std::to_string(data.classes()) + " classes, the models take " +
                     std::to_string(features_) + " values and " + std::to_string(classes_) +
                     " classes");
  }
}

std::vector<History> Population::fit(const data::Dataset& train, const data::Dataset* validation) {
  if (fitted_) throw Error("population: fit runs once");
  if (train.size() == 0) throw InvalidArgument("training set is empty");
  check_data(train, "training");
  const bool validate = validation && validation->size() > 0;
  if (validate) check_data(*validation, "validation");
  fitted_ = true;

  const TrainOptions& options = configs_[0].train;  // the shared part
  const int count = size();
  std::vector<data::DataLoader> loaders;
  for (const MemberConfig& c : configs_) {
    loaders.emplace_back(train, data::LoaderOptions{.batch = options.batch, .seed = c.train.seed});
  }
  const int64_t per_epoch = loaders[0].batches_per_epoch();
  const int64_t eval_every = options.eval_every > 0 ? options.eval_every : per_epoch;
  const int64_t total = Trainer(options).total_iterations(train);

  std::vector<History> histories(static_cast<size_t>(count));
  for (History& h : histories) h.total_iterations = total;
  for (auto& loader : loaders) loader.start_epoch(0);
  RunImages images(train, validation, device_);  // where the members read them
  std::vector<double> interval_loss(static_cast<size_t>(count), 0.0);
  std::vector<int64_t> interval_steps(static_cast<size_t>(count), 0);
  std::vector<double> lr(static_cast<size_t>(count), 0.0);
  std::vector<float> lrs;
  double train_seconds = 0;
  int64_t it = 0, epoch = 0;
  auto& be = backend::backend(device_);

  // Members leave: each one's History is closed and its state kept as a solo checkpoint (taken
  // before its slot's update for a divergence: Trainer stops before the step); `remove` then
  // compacts the slots (the last move down).
  auto close = [&](const std::vector<int>& slots, RunStatus status, double seconds) {
    for (const int s : slots) {
      const auto m = static_cast<size_t>(slot_member_[static_cast<size_t>(s)]);
      History& h = histories[m];
      h.status = status;
      h.iterations = it;
      h.train_seconds = seconds;
      if (status == RunStatus::Diverged) h.diverged_at = it;
      if (status == RunStatus::Stopped && validate) {
        h.validation =
            Evaluation{h.curve.back().val_loss, h.curve.back().val_accuracy, validation->size()};
        mark_diverged_weights(h);  // as Trainer does after a callback's stop
      }
      gone_[m] = checkpoint(static_cast<int>(m));
    }
    if (on_leave_) {
      for (const int s : slots) {
        const int m = slot_member_[static_cast<size_t>(s)];
        on_leave_(m, histories[static_cast<size_t>(m)]);
      }
    }
  };
  auto remove = [&](std::vector<int> slots) {
    std::sort(slots.begin(), slots.end(), std::greater<>());
    for (const int s : slots) remove_slot(s);
  };

  auto t0 = Clock::now();
  while (it < total && active() > 0) {
    const int64_t members = active();
    // The members' batches [P*B, features] in slot order, as image indices and labels; the images
    // are gathered where the members are, so only the indices cross to a device.
    rows_.clear();
    labels_.clear();
    int64_t rows = 0;
    for (int64_t s = 0; s < members; ++s) {
      const auto m = static_cast<size_t>(slot_member_[static_cast<size_t>(s)]);
      rows = loaders[m].next_indices(rows_, labels_);
    }
    // Every member's epoch ends at the same step (one data set, one batch size), and all its
    // batches are of one size.
    if (rows == 0) {
      ++epoch;
      for (auto& loader : loaders) loader.start_epoch(epoch);
      continue;
    }
    lrs.resize(static_cast<size_t>(members));
    for (int64_t s = 0; s < members; ++s) {
      const auto m = static_cast<size_t>(slot_member_[static_cast<size_t>(s)]);
      lr[m] = optim::learning_rate(configs_[m].train.schedule, base_lr_[m], it, total);
      lrs[static_cast<size_t>(s)] = static_cast<float>(lr[m]);
    }
    images.train().gather(rows_, batch_);

    const Tensor& logits = forward(batch_.data(), false, rows, nn::Mode::Train);
    probs_.resize(logits.shape(), device_);
    losses_.resize(static_cast<size_t>(members));
    be.softmax_cross_entropy_batched(logits.data(), labels_.data(), members, rows, classes_,
                                     probs_.data(), losses_.data());
    ++it;
    iteration_ = it;
    std::vector<int> diverged;
    for (int64_t s = 0; s < members; ++s) {
      const auto m = static_cast<size_t>(slot_member_[static_cast<size_t>(s)]);
      const double step_loss = losses_[static_cast<size_t>(s)] / static_cast<double>(rows);
      if (!std::isfinite(step_loss)) {
        diverged.push_back(static_cast<int>(s));
        continue;
      }
      interval_loss[m] += step_loss;
      ++interval_steps[m];
    }
    close(diverged, RunStatus::Diverged, train_seconds + seconds_since(t0));
    // Every slot goes through backward and update, a diverged one too: its NaNs stay in its own
    // slices (per-member GEMMs, element-wise kernels) and go with its slot below.
    dlogits_.resize(probs_.shape(), device_);
    be.softmax_cross_entropy_backward(probs_.data(), labels_.data(), members * rows, classes_,
                                      1.0f / static_cast<float>(rows), dlogits_.data());
    backward(dlogits_, rows);
    update(lrs);
    remove(diverged);
    if (on_step_) on_step_(it, total, active());

    if (active() > 0 && (it % eval_every == 0 || it == total)) {
      train_seconds += seconds_since(t0);
      std::vector<Evaluation> evaluations;
      if (validate) evaluations = evaluate(*validation, *images.validation());
      for (int64_t s = 0; s < active(); ++s) {
        const auto m = static_cast<size_t>(slot_member_[static_cast<size_t>(s)]);
        CurvePoint p{.iteration = it,
                     .epoch = static_cast<double>(it) / static_cast<double>(per_epoch),
                     .train_loss = interval_steps[m] ? interval_loss[m] / interval_steps[m] : kNaN,
                     .val_loss = kNaN,
                     .val_accuracy = kNaN,
                     .lr = lr[m],
                     .seconds = train_seconds};
        if (validate) {
          p.val_loss = evaluations[static_cast<size_t>(s)].loss;
          p.val_accuracy = evaluations[static_cast<size_t>(s)].accuracy;
        }
        histories[m].final_train_loss = p.train_loss;
        histories[m].curve.push_back(p);
        interval_loss[m] = 0;
        interval_steps[m] = 0;
      }
      // The callbacks may read or write slices from other threads (PBT members saving and
      // loading their states): the step's queued kernels must have run.
      if (on_report_) be.synchronize();
      std::vector<int> stopped;
      for (int m = 0; m < count; ++m) {  // in member order; a callback may exploit another
        if (!is_active(m) || !on_report_) continue;
        if (!on_report_(m, histories[static_cast<size_t>(m)].curve.back())) {
          stopped.push_back(member_slot_[static_cast<size_t>(m)]);
        }
      }
      close(stopped, RunStatus::Stopped, train_seconds);
      remove(stopped);
      t0 = Clock::now();
    }
  }
  train_seconds += seconds_since(t0);
  for (int64_t s = 0; s < active(); ++s) {
    History& h = histories[static_cast<size_t>(slot_member_[static_cast<size_t>(s)])];
    h.iterations = it;
    h.train_seconds = train_seconds;
    // The last step always reports (it == total), so the final evaluation is its point's.
    if (validate && !h.curve.empty()) {
      h.validation =
          Evaluation{h.curve.back().val_loss, h.curve.back().val_accuracy, validation->size()};
    }
    mark_diverged_weights(h);
  }
  return histories;
}

}  // namespace krill::train
