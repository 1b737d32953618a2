#include "train_command.hpp"

#include <fmt/core.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <thread>

#include "backend/backend.hpp"
#include "core/error.hpp"
#include "data/dataset.hpp"
#include "nn/model_spec.hpp"
#include "optim/adam.hpp"
#include "optim/sgd.hpp"
#include "progress.hpp"
#include "report/json_writer.hpp"
#include "train/checkpoint.hpp"
#include "train/trainer.hpp"
#include "tune/params.hpp"
#include "tune/trainable.hpp"

namespace krill::cli {

namespace {

struct TrainArgs {
  std::string data = "fashion-mnist";
  std::string model = "mlp:512,256";
  std::string activation = "relu";
  std::string init;      // default by activation
  double dropout = 0.0;  // a float in the model, converted as a study's trial converts it
  bool activation_given = false, dropout_given = false;  // on the command line
  std::string loss = "cross-entropy";
  std::string optimizer = "sgd";
  double lr = 0.01;
  double momentum = 0.0;
  bool nesterov = false;
  double weight_decay = 0.0;
  int64_t batch = 32;
  int64_t epochs = 1;
  int64_t iterations = 0;
  std::string schedule = "constant";
  double validation = 0.1;
  int64_t subset = 0;
  int64_t eval_every = 0;
  uint64_t seed = 1;
  std::optional<uint64_t> split_seed;  // default: seed
  int threads = 0;
  std::string device = "cpu";
  bool json = false;
  bool quiet = false;
  std::string save;
  std::string resume;
};

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

void check(bool ok, const std::string& option, const std::string& what) {
  if (!ok) throw InvalidArgument(option + ": " + what);
}

void validate(const TrainArgs& a) {
  // The rules of the training parameters (tune/params.hpp), the ones study files and trials use.
  tune::require_allowed("lr", a.lr, "--lr");
  tune::require_allowed("momentum", a.momentum, "--momentum");
  tune::require_allowed("weight_decay", a.weight_decay, "--weight-decay");
  tune::require_allowed("batch", a.batch, "--batch");
  tune::require_allowed("epochs", a.epochs, "--epochs");
  tune::require_allowed("iterations", a.iterations, "--iterations");
  if (a.eval_every != 0) {
    try {
      tune::require_allowed("eval_every", a.eval_every, "--eval-every");
    } catch (const InvalidArgument& e) {
      throw InvalidArgument(std::string(e.what()) + " (or 0: each epoch)");
    }
  }
  tune::require_allowed("dropout", a.dropout, "--dropout");
  tune::require_allowed("optimizer", a.optimizer, "--optimizer");
  check(a.validation >= 0 && a.validation < 1, "--validation",
        fmt::format("must be a fraction in [0, 1), got {}", a.validation));
  check(a.subset >= 0, "--subset", fmt::format("must be >= 0 (0: all images), got {}", a.subset));
  // OpenMP cannot start tens of thousands of threads (libgomp fails, or crashes).
  check(a.threads >= 0 && a.threads <= 1024, "--threads",
        fmt::format("must be from 1 to 1024 (0 = all cores), got {}", a.threads));
  // Adam would train as if they were not given.
  check(a.optimizer != "adam" || a.momentum == 0, "--momentum",
        "is SGD's: adam has no momentum to set (its beta1 is 0.9), expected --optimizer sgd or no "
        "--momentum");
  check(a.optimizer != "adam" || !a.nesterov, "--nesterov",
        "is SGD's: adam has no Nesterov momentum, expected --optimizer sgd or no --nesterov");
  check(!a.nesterov || a.momentum > 0, "--nesterov", "needs --momentum > 0");
  // Before training, not after it: the weights would be lost.
  if (!a.save.empty()) {
    std::filesystem::path target;
    try {
      target = train::checkpoint_target(a.save);
    } catch (const DataError& e) {
      check(false, "--save", e.what());
    }
    // The new file is made beside the target, then renamed over it.
    const std::filesystem::path folder =
        target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
    std::error_code ec;
    check(std::filesystem::is_directory(folder, ec), "--save",
          fmt::format("{}: its folder {} does not exist", a.save, folder.string()));
    const bool writable = ::access(folder.c_str(), W_OK) == 0;
    const int why = errno;
    check(writable, "--save",
          fmt::format("{}: its folder {} may not be written ({})", a.save, folder.string(),
                      std::strerror(why)));
  }
}

// Prefixes errors from parsers with the option they came from.
template <class F>
auto parse_option(const char* option, F&& parse) {
  try {
    return parse();
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(std::string(option) + ": " + e.what());
  }
}

void write_result(const TrainArgs& a, const nn::ModelSpec& spec, int64_t params, int threads,
                  const train::History& h, const train::Evaluation& test, int64_t train_size,
                  int64_t val_size, int classes) {
  const double epochs_done =
      static_cast<double>(h.iterations) / std::ceil(static_cast<double>(train_size) / a.batch);
  if (a.json) {
    report::JsonWriter j;
    j.begin_object();
    j.field("model", spec.to_string());
    j.field("parameters", params);
    j.field("data", a.data);
    j.field("train_size", train_size);
    j.field("validation_size", val_size);
    j.field("classes", classes);
    j.field("batch", a.batch);
    j.field("optimizer", a.optimizer);
    j.field("lr", a.lr);
    j.field("schedule", a.schedule);
    j.field("seed", std::to_string(a.seed));  // digits: a 64-bit seed does not fit a double
    j.field("threads", threads);
    j.field("device", a.device);
    j.field("status", train::to_string(h.status));
    j.field("iterations", h.iterations);
    if (h.diverged_at >= 0) j.field("diverged_at", h.diverged_at);
    j.field("train_seconds", h.train_seconds);
    j.field("epoch_seconds", epochs_done > 0 ? h.train_seconds / epochs_done : 0.0);
    j.field("final_train_loss", h.final_train_loss);
    j.field("val_loss", h.validation ? h.validation->loss : NAN);
    j.field("val_accuracy", h.validation ? h.validation->accuracy : NAN);
    j.field("test_loss", test.count ? test.loss : NAN);
    j.field("test_accuracy", test.count ? test.accuracy : NAN);
    j.field("peak_rss_mb", peak_rss_mb());
    j.key("curve");
    j.begin_array();
    for (const auto& p : h.curve) {
      j.begin_object();
      j.field("iteration", p.iteration);
      j.field("epoch", p.epoch);
      j.field("train_loss", p.train_loss);
      j.field("val_loss", p.val_loss);
      j.field("val_accuracy", p.val_accuracy);
      j.field("lr", p.lr);
      j.field("seconds", p.seconds);
      j.end_object();
    }
    j.end_array();
    j.end_object();
    fmt::print("{}\n", j.str());
    return;
  }
  fmt::print(
      "status          {}{}\n", train::to_string(h.status),
      h.diverged_at >= 0 ? fmt::format(" (loss not finite at iteration {})", h.diverged_at) : "");
  fmt::print("iterations      {} ({:.2f} epochs)\n", h.iterations, epochs_done);
  fmt::print("train time      {:.2f} s ({:.3f} ms/step, {} threads)\n", h.train_seconds,
             h.iterations ? 1e3 * h.train_seconds / h.iterations : 0.0, threads);
  // NaN: no curve point before a divergence.
  fmt::print("train loss      {}\n", std::isfinite(h.final_train_loss)
                                         ? fmt::format("{:.4f}", h.final_train_loss)
                                         : std::string("-"));
  if (h.validation) {
    fmt::print("validation      loss {:.4f}  accuracy {:.2f}%\n", h.validation->loss,
               100 * h.validation->accuracy);
  }
  if (test.count)
    fmt::print("test            loss {:.4f}  accuracy {:.2f}%\n", test.loss, 100 * test.accuracy);
  fmt::print("peak memory     {:.0f} MB\n", peak_rss_mb());
}

// The run's parameters, named as a study's trials name theirs: `krill train` builds its model and
// optimizer through tune::make_config and tune::build_model_and_optimizer, as trials do.
hpo::Params params_of(const TrainArgs& a) {
  hpo::Params p{{"layers", a.model},
                {"optimizer", a.optimizer},
                {"lr", a.lr},
                {"momentum", a.momentum},
                {"nesterov", int64_t{a.nesterov ? 1 : 0}},
                {"weight_decay", a.weight_decay},
                {"batch", a.batch},
                {"epochs", a.epochs},
                {"iterations", a.iterations}};
  if (a.eval_every > 0) p["eval_every"] = a.eval_every;
  if (a.activation_given) p["activation"] = a.activation;
  if (a.dropout_given) p["dropout"] = a.dropout;
  if (!a.init.empty()) p["init"] = a.init;
  return p;
}

int run_train(const TrainArgs& a) {
  validate(a);
  const nn::ModelSpec written =
      parse_option("--model", [&] { return nn::parse_model_spec(a.model); });
  if (written.is_list && (a.activation_given || a.dropout_given)) {
    throw InvalidArgument(std::string(a.activation_given ? "--activation" : "--dropout") +
                          ": applies to the mlp: shorthand; --model " + written.to_string() +
                          " is a list of layers, expected its activations and dropout written "
                          "in it as layers (relu, dropout:0.2)");
  }
  parse_option("--activation", [&] { return nn::parse_activation(a.activation); });
  if (!a.init.empty()) parse_option("--init", [&] { return nn::parse_init(a.init); });
  const auto loss_kind = parse_option("--loss", [&] { return nn::parse_loss(a.loss); });
  const auto schedule =
      parse_option("--schedule", [&] { return optim::parse_schedule(a.schedule); });
  tune::TrialConfig config =
      parse_option("--model", [&] { return tune::make_config(params_of(a)); });
  config.train.schedule = schedule;
  config.train.device = parse_device(a.device, "--device");
  if (auto why = backend::device_problem(config.train.device); !why.empty()) {
    throw InvalidArgument("--device " + a.device + ": " + why);
  }
  const nn::ModelSpec& spec = config.model;

  const int threads = a.threads > 0
                          ? a.threads
                          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  backend::backend(Device::Cpu).set_threads(threads);

  const auto folder = data::resolve_data(a.data);
  auto [full_train, test] = data::load_idx(folder);
  if (a.subset > 0) full_train = full_train.head(a.subset);
  auto [train_set, val_set] = full_train.split(a.validation, a.split_seed.value_or(a.seed));
  if (full_train.size() == 0) {  // else the trainer's "training set is empty", naming nothing
    throw DataError(folder.string() + ": the training files hold no images");
  }
  if (train_set.size() == 0) {
    throw InvalidArgument(fmt::format(
        "--validation {}: leaves none of the {} training images to train on, expected a "
        "smaller fraction",
        a.validation, full_train.size()));
  }

  if (const auto problem =
          tune::batch_problem(spec, train_set.shape(), train_set.classes(), train_set.size(),
                              config.train.batch, config.train.iterations);
      !problem.empty()) {
    // One training image: the data's doing (--subset, --validation), not the batch's.
    throw InvalidArgument(train_set.size() == 1
                              ? problem
                              : "--batch " + std::to_string(config.train.batch) + ": " + problem);
  }
  auto [model, opt] = parse_option("--model", [&] {
    return tune::build_model_and_optimizer(config, train_set.shape(), train_set.classes(), a.seed);
  });
  auto loss = nn::make_loss(loss_kind);

  int64_t start = 0;
  if (!a.resume.empty()) {
    const auto state = train::load_checkpoint_file(a.resume, *model, *opt);
    start = state.iteration;
    opt->set_lr(state.base_lr);
  }
  train::TrainOptions options = config.train;
  options.seed = a.seed;
  options.start_iteration = start;
  train::Trainer trainer(options);
  // A checkpoint at or past the end: say so, rather than train nothing silently.
  int64_t total = 0;
  try {
    total = trainer.total_iterations(train_set);
  } catch (const InvalidArgument& e) {  // too many epochs to count their steps
    throw InvalidArgument(std::string("--epochs: ") + e.what());
  }
  if (!a.resume.empty() && start >= total) {
    throw InvalidArgument(
        a.resume + " is at iteration " + std::to_string(start) + " and " +
        (a.iterations > 0 ? "--iterations is " + std::to_string(a.iterations)
                          : "--epochs " + std::to_string(a.epochs) + " is " +
                                std::to_string(total) + " iterations") +
        ": nothing to train (the total counts the checkpoint's steps; to train N more: "
        "--iterations " +
        std::to_string(start) + "+N)");
  }
  if (!a.json && !a.quiet) {
    fmt::print(stderr,
               "krill train: {} ({} parameters{}) on {} ({} train, {} validation, {} test; {} "
               "classes), {}\n",
               spec.to_string(), model->parameter_count(),
               // A last dense:N above the classes: said, in case the output layer was forgotten.
               spec.outputs(train_set.classes()) != train_set.classes()
                   ? fmt::format(", {} outputs", spec.outputs(train_set.classes()))
                   : "",
               folder.string(), train_set.size(), val_set.size(), test.size(), train_set.classes(),
               config.train.device == Device::Cpu ? fmt::format("{} threads", threads) : a.device);
  }
  Progress progress("train", a.quiet || a.json, start);
  trainer.on_step([&](int64_t done, int64_t total, double step_loss) {
    progress.update(done, total, fmt::format("loss {:.4f}", step_loss));
  });
  trainer.on_report([&](const train::CurvePoint& p) {
    if (!a.quiet && !a.json && !std::isnan(p.val_accuracy)) {
      progress.finish();
      fmt::print(stderr,
                 "  iteration {:>7}  epoch {:5.2f}  train loss {:.4f}  val loss {:.4f}  val acc "
                 "{:.2f}%  lr {:.5g}\n",
                 p.iteration, p.epoch, p.train_loss, p.val_loss, 100 * p.val_accuracy, p.lr);
    }
    return true;
  });
  const train::History h = trainer.fit(*model, *opt, *loss, train_set, &val_set);
  progress.finish();

  if (!a.save.empty()) {
    train::save_checkpoint_file(a.save, *model, *opt,
                                {.iteration = h.iterations, .base_lr = opt->lr()});
  }
  train::Evaluation test_eval;
  if (h.status != train::RunStatus::Diverged) {
    test_eval = train::evaluate(*model, *loss, test, 1000, config.train.device);
  }
  write_result(a, spec, model->parameter_count(), threads, h, test_eval, train_set.size(),
               val_set.size(), train_set.classes());
  return h.status == train::RunStatus::Diverged ? 3 : 0;
}

// CLI11 reads a number as a long double and rounds that to a double, which can land on the
// neighbour of the double that the number's shortest text names. `krill best` prints a trial's
// parameters as such texts, and they must read back exactly: std::from_chars reads them.
CLI::Option* add_number(CLI::App* cmd, const std::string& name, double& target,
                        const std::string& help) {
  return cmd
      ->add_option_function<std::string>(
          name,
          [&target, name](const std::string& text) {
            const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), target);
            if (ec != std::errc{} || end != text.data() + text.size()) {
              throw CLI::ValidationError(name, "'" + text + "' is not a number");
            }
          },
          help)
      ->type_name("FLOAT")
      ->default_str(fmt::format("{}", target));
}

}  // namespace

void add_train_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand("train", "Train one network and report its metrics");
  cmd->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  cmd->add_option("--data", args->data,
                  "'fashion-mnist' (Debian's dataset-fashion-mnist), 'mnist' ($KRILL_MNIST_DIR) or "
                  "a folder of IDX files")
      ->capture_default_str();
  cmd->add_option("--model", args->model,
                  "the network: a list of layers such as "
                  "conv:32:5,relu,maxpool:2,flatten,dense:10 (dense:N, conv:F:K[:S[:P]], "
                  "maxpool:K[:S], avgpool:K[:S], flatten, batchnorm, dropout:P, relu, sigmoid, "
                  "tanh), or the shorthand mlp:W1,W2,... (hidden widths) or linear")
      ->capture_default_str();
  cmd->add_option("--activation", args->activation, "relu, sigmoid or tanh (mlp: models)")
      ->capture_default_str();
  cmd->add_option("--init", args->init, "he, glorot or torch (default: he for relu, else glorot)");
  add_number(cmd, "--dropout", args->dropout, "dropout after each hidden layer (mlp: models)");
  cmd->add_option("--loss", args->loss, "cross-entropy or mse")->capture_default_str();
  cmd->add_option("--optimizer", args->optimizer, "sgd or adam")->capture_default_str();
  add_number(cmd, "--lr", args->lr, "initial learning rate");
  add_number(cmd, "--momentum", args->momentum, "SGD momentum");
  cmd->add_flag("--nesterov", args->nesterov, "Nesterov momentum");
  add_number(cmd, "--weight-decay", args->weight_decay, "L2 weight decay");
  cmd->add_option("--batch", args->batch, "batch size")->capture_default_str();
  cmd->add_option("--epochs", args->epochs, "epochs (ignored with --iterations)")
      ->capture_default_str();
  cmd->add_option("--iterations", args->iterations,
                  "train until this many steps in all (with --resume: the checkpoint's steps "
                  "count; to train 100 more from step 500, --iterations 600)");
  cmd->add_option("--schedule", args->schedule,
                  "constant | step:EVERY:FACTOR | exp:GAMMA | cosine:WARMUP[:TOTAL[:MIN]]; the "
                  "poster's dynamic rate is step:100:0.95")
      ->capture_default_str();
  add_number(cmd, "--validation", args->validation, "fraction of the training set held out");
  cmd->add_option("--subset", args->subset,
                  "train on the first N training images only, before the validation split (0: "
                  "all)")
      ->capture_default_str();
  cmd->add_option("--eval-every", args->eval_every,
                  "a learning-curve point every N iterations (0: every epoch)")
      ->capture_default_str();
  cmd->add_option("--seed", args->seed, "seed for initialisation, dropout, data order and split")
      ->capture_default_str();
  cmd->add_option("--split-seed", args->split_seed,
                  "seed of the train/validation split alone (default: --seed; a study's trials "
                  "share the study's split)");
  cmd->add_option("--threads", args->threads, "threads (0: all cores)")->capture_default_str();
  cmd->add_option("--device", args->device,
                  "where to train: cpu, or cuda (a build with CUDA and a GPU)")
      ->capture_default_str();
  cmd->add_flag("--json", args->json, "print the result as one JSON object");
  cmd->add_flag("--quiet,-q", args->quiet, "no progress output");
  // An empty path would be taken for no option at all: no checkpoint written, none read.
  const CLI::Validator a_path(
      [](const std::string& path) {
        return path.empty() ? std::string("is empty, expected a checkpoint file's path") : "";
      },
      "", "path");
  cmd->add_option("--save", args->save, "write a checkpoint (weights + optimizer state) here")
      ->check(a_path);
  cmd->add_option("--resume", args->resume, "continue from a checkpoint written by --save")
      ->check(a_path);
  cmd->callback([args, cmd, &exit_code] {
    args->activation_given = cmd->count("--activation") > 0;
    args->dropout_given = cmd->count("--dropout") > 0;
    exit_code = run_train(*args);
  });
}

}  // namespace krill::cli
