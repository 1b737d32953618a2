#include "train/trainer.hpp"

#include <chrono>
#include <cmath>
#include <limits>
#include <vector>

#include "backend/backend.hpp"
#include "core/error.hpp"
#include "data/loader.hpp"

namespace krill::train {

namespace {
using Clock = std::chrono::steady_clock;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}
}  // namespace

std::string to_string(RunStatus status) {
  switch (status) {
    case RunStatus::Completed:
      return "completed";
    case RunStatus::Stopped:
      return "stopped";
    case RunStatus::Diverged:
      return "diverged";
  }
  return "?";
}

Trainer::Trainer(TrainOptions options) : options_(std::move(options)) {
  auto fail = [](const std::string& what) { throw InvalidArgument("training options: " + what); };
  if (options_.batch <= 0) fail("batch must be positive, got " + std::to_string(options_.batch));
  if (options_.iterations < 0) fail("iterations must be >= 0");
  if (options_.iterations == 0 && options_.epochs <= 0) {
    fail("epochs must be positive, got " + std::to_string(options_.epochs));
  }
  if (options_.eval_every < 0) fail("eval_every must be >= 0");
  if (options_.eval_batch <= 0) fail("eval_batch must be positive");
  if (options_.start_iteration < 0) fail("start_iteration must be >= 0");
}

void Trainer::set_base_lr(double lr) {
  if (!(lr >= 0) || !std::isfinite(lr)) {
    throw InvalidArgument("learning rate must be >= 0 and finite, got " + std::to_string(lr));
  }
  base_lr_ = lr;
}

int64_t Trainer::total_iterations(const data::Dataset& train) const {
  if (options_.iterations > 0) return options_.iterations;
  const int64_t per_epoch = data::batches_per_epoch(train.size(), options_.batch);
  int64_t total = 0;
  if (__builtin_mul_overflow(options_.epochs, per_epoch, &total)) {
    throw InvalidArgument(
        std::to_string(options_.epochs) + " epochs of " + std::to_string(per_epoch) +
        " batches are more steps than can be counted (at most " +
        std::to_string(std::numeric_limits<int64_t>::max()) + "), expected fewer epochs");
  }
  return total;
}

History Trainer::fit(nn::Module& model, optim::Optimizer& optimizer, nn::Loss& loss,
                     const data::Dataset& train, const data::Dataset* validation) {
  if (train.size() == 0) throw InvalidArgument("training set is empty");
  data::DataLoader loader(train, {.batch = options_.batch, .seed = options_.seed});
  const int64_t per_epoch = loader.batches_per_epoch();
  const int64_t eval_every = options_.eval_every > 0 ? options_.eval_every : per_epoch;

  History h;
  h.total_iterations = total_iterations(train);
  base_lr_ = optimizer.lr();

  // Resume: position the loader where step `start_iteration` left it.
  int64_t it = std::min(options_.start_iteration, h.total_iterations);
  int64_t epoch = it / per_epoch;
  loader.start_epoch(epoch);
  std::vector<int64_t> rows;
  std::vector<int32_t> labels;
  for (int64_t skip = it % per_epoch; skip > 0; --skip) {
    rows.clear();
    labels.clear();
    loader.next_indices(rows, labels);
  }

  RunImages images(train, validation, options_.device);  // where the model reads them

  double interval_loss = 0;
  int64_t interval_steps = 0;
  double train_seconds = 0;
  auto report = [&](double lr) -> bool {
    CurvePoint p{.iteration = it,
                 .epoch = static_cast<double>(it) / static_cast<double>(per_epoch),
                 .train_loss = interval_steps ? interval_loss / interval_steps : kNaN,
                 .val_loss = kNaN,
                 .val_accuracy = kNaN,
                 .lr = lr,
                 .seconds = train_seconds};
    h.final_train_loss = p.train_loss;
    interval_loss = 0;
    interval_steps = 0;
    if (validation && validation->size() > 0) {
      Evaluation e = evaluate(model, loss, *validation, options_.eval_batch, *images.validation());
      p.val_loss = e.loss;
      p.val_accuracy = e.accuracy;
    }
    h.curve.push_back(p);
    return !on_report_ || on_report_(p);
  };

  Tensor x(Shape{0}, options_.device);  // the batch on the model's device
  auto t0 = Clock::now();
  double lr = base_lr_;
  while (it < h.total_iterations) {
    rows.clear();
    labels.clear();
    if (loader.next_indices(rows, labels) == 0) {
      loader.start_epoch(++epoch);
      continue;
    }
    lr = optim::learning_rate(options_.schedule, base_lr_, it, h.total_iterations);
    optimizer.set_lr(lr);
    images.train().gather(rows, x);
    const Tensor& out = model.forward(x, nn::Mode::Train);
    const double step_loss = loss.forward(out, labels);
    ++it;
    if (!std::isfinite(step_loss)) {
      h.status = RunStatus::Diverged;
      h.diverged_at = it;
      break;
    }
    model.backward(loss.backward());
    optimizer.step();
    interval_loss += step_loss;
    ++interval_steps;
    if (on_step_) on_step_(it, h.total_iterations, step_loss);
    if (it % eval_every == 0 || it == h.total_iterations) {
      train_seconds += seconds_since(t0);
      const bool go_on = report(lr);
      t0 = Clock::now();
      if (!go_on) {
        h.status = RunStatus::Stopped;
        break;
      }
    }
  }
  if (h.status != RunStatus::Stopped) train_seconds += seconds_since(t0);
  optimizer.set_lr(base_lr_);
  h.iterations = it;
  h.train_seconds = train_seconds;
  if (h.status != RunStatus::Diverged && validation && validation->size() > 0) {
    h.validation =
        h.curve.empty() || h.curve.back().iteration != it
            ? evaluate(model, loss, *validation, options_.eval_batch, *images.validation())
            : Evaluation{h.curve.back().val_loss, h.curve.back().val_accuracy, validation->size()};
  }
  mark_diverged_weights(h);
  return h;
}

void mark_diverged_weights(History& h) {
  if (h.status == RunStatus::Diverged || !h.validation || std::isfinite(h.validation->loss)) return;
  h.status = RunStatus::Diverged;
  h.diverged_at = h.iterations;
  h.validation.reset();
}

Evaluation evaluate(nn::Module& model, nn::Loss& loss, const data::Dataset& data, int64_t batch,
                    Device device) {
  if (data.size() == 0) return {};
  DeviceImages images(data.storage(), device);
  return evaluate(model, loss, data, batch, images);
}

Evaluation evaluate(nn::Module& model, nn::Loss& loss, const data::Dataset& data, int64_t batch,
                    DeviceImages& images) {
  if (data.size() == 0) return {};
  if (images.storage() != data.storage()) {
    throw InvalidArgument("evaluate: the DeviceImages hold another data set's images");
  }
  data::DataLoader loader(data, {.batch = batch, .shuffle = false});
  loader.start_epoch(0);
  std::vector<int64_t> rows;
  std::vector<int32_t> labels;
  Tensor x(Shape{0}, images.device());
  double loss_sum = 0;
  int64_t correct = 0, count = 0;
  while (true) {
    rows.clear();
    labels.clear();
    const int64_t size = loader.next_indices(rows, labels);
    if (size == 0) break;
    images.gather(rows, x);
    const Tensor& out = model.forward(x, nn::Mode::Eval);
    loss_sum += loss.forward(out, labels) * static_cast<double>(size);
    correct += backend::backend(out.device())
                   .count_correct(out.data(), labels.data(), out.dim(0), out.dim(1));
    count += size;
  }
  if (count == 0) return {};
  return {loss_sum / static_cast<double>(count),
          static_cast<double>(correct) / static_cast<double>(count), count};
}

}  // namespace krill::train
