#include "tune/trainable.hpp"

#include <cmath>

#include "backend/backend.hpp"
#include "core/error.hpp"
#include "core/rng.hpp"
#include "train/checkpoint.hpp"

namespace krill::tune {

namespace {

const hpo::ParamValue* find(const hpo::Params& p, const std::string& name) {
  auto it = p.find(name);
  return it == p.end() ? nullptr : &it->second;
}

double get_float(const hpo::Params& p, const std::string& name, double fallback) {
  const auto* v = find(p, name);
  return v ? hpo::as_double(*v, name) : fallback;
}

int64_t get_int(const hpo::Params& p, const std::string& name, int64_t fallback) {
  const auto* v = find(p, name);
  if (!v) return fallback;
  if (const auto* i = std::get_if<int64_t>(v)) return *i;
  const double d = hpo::as_double(*v, name);
  if (d != std::floor(d)) {
    throw InvalidArgument("parameter '" + name + "' is " + hpo::to_string(*v) +
                          ", expected an integer");
  }
  return static_cast<int64_t>(d);
}

std::string get_string(const hpo::Params& p, const std::string& name, const std::string& fallback) {
  const auto* v = find(p, name);
  if (!v) return fallback;
  if (const auto* s = std::get_if<std::string>(v)) return *s;
  return hpo::to_string(*v);  // e.g. hidden: 512 given as a number
}

optim::Schedule make_schedule(const hpo::Params& p) {
  const std::string kind = get_string(p, "schedule", "constant");
  if (kind == "constant") return optim::Constant{};
  if (kind == "step") {
    return optim::StepDecay{.every = get_int(p, "decay_every", 100),
                            .factor = get_float(p, "decay_factor", 0.95)};
  }
  if (kind == "exp") return optim::Exponential{.gamma = get_float(p, "gamma", 0.999)};
  if (kind == "cosine") {
    return optim::CosineWarmup{.warmup = get_int(p, "warmup", 0),
                               .min_factor = get_float(p, "min_factor", 0.0)};
  }
  throw InvalidArgument("parameter 'schedule' is '" + kind +
                        "', expected constant, step, exp or cosine");
}

}  // namespace

TrialConfig make_config(const hpo::Params& p) {
  TrialConfig c;
  if (find(p, "hidden")) {
    c.model = nn::parse_model_spec("mlp:" + get_string(p, "hidden", ""));
  } else if (find(p, "width") || find(p, "depth")) {
    const int64_t width = get_int(p, "width", 128), depth = get_int(p, "depth", 1);
    if (depth < 0 || depth > 64) throw InvalidArgument("parameter 'depth' must be in [0, 64]");
    c.model.hidden.assign(static_cast<size_t>(depth), width);
    if (width <= 0) throw InvalidArgument("parameter 'width' must be positive");
  } else {
    c.model.hidden = {512, 256};
  }
  c.model.activation = nn::parse_activation(get_string(p, "activation", "relu"));
  c.model.dropout = static_cast<float>(get_float(p, "dropout", 0.0));
  if (!(c.model.dropout >= 0 && c.model.dropout < 1)) {
    throw InvalidArgument("parameter 'dropout' must be in [0, 1)");
  }
  if (find(p, "init")) c.model.init = nn::parse_init(get_string(p, "init", "he"));

  c.optimizer = get_string(p, "optimizer", "sgd");
  const double lr = get_float(p, "lr", c.optimizer == "adam" ? 0.001 : 0.01);
  const double wd = get_float(p, "weight_decay", 0.0);
  if (c.optimizer == "sgd") {
    c.sgd = {.lr = lr,
             .momentum = get_float(p, "momentum", 0.0),
             .weight_decay = wd,
             .nesterov = get_int(p, "nesterov", 0) != 0};
  } else if (c.optimizer == "adam") {
    c.adam = {.lr = lr, .weight_decay = wd};
  } else {
    throw InvalidArgument("parameter 'optimizer' is '" + c.optimizer + "', expected sgd or adam");
  }
  c.train.batch = get_int(p, "batch", 32);
  c.train.epochs = get_int(p, "epochs", 1);
  c.train.iterations = get_int(p, "iterations", 0);
  c.train.eval_every = get_int(p, "eval_every", 0);
  c.train.schedule = make_schedule(p);
  return c;
}

std::shared_ptr<const StudyData> load_study_data(const StudyFile& file) {
  auto [train, test] = data::load_idx(data::resolve_data(file.data));
  if (file.subset > 0) train = train.head(file.subset);
  auto [fit, validation] = train.split(file.validation, file.seed);
  return std::make_shared<const StudyData>(StudyData{fit, validation, test});
}

struct TrainingObjective::Run {
  TrialConfig config;
  std::unique_ptr<nn::Sequential> model;
  std::unique_ptr<optim::Optimizer> optimizer;
};

TrainingObjective::TrainingObjective(const StudyFile& file, std::shared_ptr<const StudyData> data,
                                     std::filesystem::path checkpoint_prefix,
                                     std::optional<double> best_so_far, int64_t best_number)
    : fixed_(file.fixed),
      seed_(file.seed),
      maximize_(file.objective == "val_accuracy"),
      data_(std::move(data)),
      prefix_(std::move(checkpoint_prefix)),
      best_(best_so_far),
      best_number_(best_so_far ? best_number : -1) {}

std::filesystem::path TrainingObjective::checkpoint_of(int64_t number) const {
  std::filesystem::path p = prefix_;
  p += ".trial-" + std::to_string(number) + ".ckpt";
  return p;
}

TrainingObjective::Run TrainingObjective::build(const hpo::Params& all, uint64_t seed) const {
  Run r{make_config(all), nullptr, nullptr};
  r.config.train.seed = seed;
  r.model = nn::build_model(r.config.model, data_->train.features(), data_->train.classes(), seed);
  if (r.config.optimizer == "adam") {
    r.optimizer = std::make_unique<optim::Adam>(r.model->parameters(), r.config.adam);
  } else {
    r.optimizer = std::make_unique<optim::Sgd>(r.model->parameters(), r.config.sgd);
  }
  return r;
}

double TrainingObjective::operator()(hpo::Trial& trial) {
  backend::Backend& cpu = backend::backend(Device::Cpu);
  int threads = trial.threads();
  cpu.set_threads(threads);
  hpo::Params all = fixed_;
  for (const auto& [name, value] : trial.params()) all[name] = value;
  Run run = build(all, Rng::derive(seed_, static_cast<uint64_t>(trial.number())));

  nn::SoftmaxCrossEntropy loss;
  train::Trainer trainer(run.config.train);
  trainer.on_report([&](const train::CurvePoint& p) {
    const bool go_on = trial.report(p.iteration, maximize_ ? p.val_accuracy : p.val_loss,
                                    {{"lr", p.lr},
                                     {"train_loss", p.train_loss},
                                     {"val_loss", p.val_loss},
                                     {"val_accuracy", p.val_accuracy}});
    // Another process of the study may have joined (or left) this host: take the new share.
    if (const int now = trial.threads(); now != threads) cpu.set_threads(threads = now);
    return go_on;
  });
  const train::History h =
      trainer.fit(*run.model, *run.optimizer, loss, data_->train, &data_->validation);
  trial.set_attr("iterations", static_cast<double>(h.iterations));
  trial.set_attr("train_seconds", h.train_seconds);
  if (h.status == train::RunStatus::Diverged) {
    throw hpo::Diverged("loss not finite at iteration " + std::to_string(h.diverged_at));
  }
  const train::Evaluation val = h.validation.value_or(train::Evaluation{});
  trial.set_attr("val_accuracy", val.accuracy);
  trial.set_attr("val_loss", val.loss);
  const double value = maximize_ ? val.accuracy : val.loss;

  if (h.status == train::RunStatus::Completed && !prefix_.empty()) {
    std::lock_guard lock(mutex_);
    if (replaces_best(value, trial.number())) {
      train::save_checkpoint_file(checkpoint_of(trial.number()), *run.model, *run.optimizer,
                                  {.iteration = h.iterations, .base_lr = run.optimizer->lr()});
      if (best_number_ >= 0 && best_number_ != trial.number()) {
        std::filesystem::remove(checkpoint_of(best_number_));
      }
      best_ = value;
      best_number_ = trial.number();
    }
  }
  return value;
}

// Two workers may finish trials of equal value in either order; the weights kept are those of the
// trial that Study::best_trial() names: the lowest number among the equal values.
bool TrainingObjective::replaces_best(double value, int64_t number) const {
  if (!best_ || better(value, *best_)) return true;
  return value == *best_ && best_number_ >= 0 && number < best_number_;
}

std::optional<train::Evaluation> TrainingObjective::test_best(const hpo::TrialRecord& best) const {
  if (prefix_.empty()) return std::nullopt;
  const auto file = checkpoint_of(best.number);
  if (!std::filesystem::exists(file)) return std::nullopt;
  hpo::Params all = fixed_;
  for (const auto& [name, value] : best.params) all[name] = value;
  Run run = build(all, 0);
  train::load_checkpoint_file(file, *run.model, *run.optimizer);
  nn::SoftmaxCrossEntropy loss;
  return train::evaluate(*run.model, loss, data_->test);
}

}  // namespace krill::tune
