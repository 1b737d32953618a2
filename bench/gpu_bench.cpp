// krill's side of the GPU benchmark of issue 13 (bench/gpu/run.sh runs it beside
// bench/gpu/torch_population.py). A plain program, not Google Benchmark, so that it needs only
// krill's libraries on the GPU machine.
//
// The model is the 784-512-256-10 MLP (ReLU; PyTorch's initialisation, FanInUniform), or the one
// --model gives (a convolutional one: its convolutions and batch norms run per member in a
// population), plain SGD with momentum 0.9, softmax cross-entropy, no validation and no
// evaluation.
//  --mode single:     one model, lr 0.05, trained by train::Trainer with TrainOptions.device.
//  --mode population: P members (--members) trained by one train::Population on the device;
//                     member p has seeds p+1 (weights and data order) and lr 0.01 + 0.09 p/(P-1)
//                     (0.01 .. 0.1; 0.05 when P = 1).
// Data: --data DIR, an IDX folder (MNIST's train-images-idx3-ubyte etc.), or by default 60,000
// synthetic 28x28 images with 10 classes generated in memory (uniform pixels and labels: the
// step costs the same as on MNIST, the losses mean nothing).
//
// Timing: one warm-up step first, untimed, on a separate model (or population) of the same
// shape (destroyed before the timed one is built), so that the device's context and its library
// handles are not counted; the timed model's own buffers are allocated during its first step and
// are counted (as in any run). Then the timed run: building the model(s) is outside, the
// clock covers Trainer::fit / Population::fit only: the upload of the training images (once,
// train::DeviceImages) and every step (the batch's image indices copied to the device and the
// batch gathered there, forward, loss, backward and update, and the loss read back for the NaN
// check, so the clock stops with the device done).
//
// Output: one JSON line on stdout: engine, mode, device, batch, members, epochs (model epochs per
// member trained: fractional with --limit-steps), steps, seconds, model_epochs_per_second,
// model (the spec) and model_kind ("conv" when it has a convolution, else "dense"),
// (members * epochs / seconds), final_losses (the first few members' mean training loss over
// the run), data, threads. Exit 2 with one line on stderr for bad options or a device that
// cannot be had (backend::device_problem's message).
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "backend/backend.hpp"
#include "core/device.hpp"
#include "core/error.hpp"
#include "core/rng.hpp"
#include "data/dataset.hpp"
#include "data/loader.hpp"
#include "nn/losses.hpp"
#include "nn/model_spec.hpp"
#include "optim/sgd.hpp"
#include "train/population.hpp"
#include "train/trainer.hpp"

namespace {

using namespace krill;

struct Options {
  std::string device = "cpu";
  std::string data;  // empty: synthetic
  std::string mode = "single";
  std::string model = "mlp:512,256";
  int64_t batch = 32;
  int members = 16;
  int64_t epochs = 1;
  int64_t limit_steps = 0;
  int threads = 0;
  uint64_t seed = 1;
  bool check = false;  // only check the device
};

constexpr int kClasses = 10;
constexpr int kLossesShown = 4;

data::Dataset synthetic_mnist(uint64_t seed) {
  auto s = std::make_shared<data::ImageSet>();
  s->count = 60000;
  s->rows = 28;
  s->cols = 28;
  s->classes = kClasses;
  Rng rng(seed);
  s->pixels.resize(static_cast<size_t>(s->count * 784));
  for (auto& p : s->pixels) p = static_cast<uint8_t>(rng.below(256));
  s->labels.resize(static_cast<size_t>(s->count));
  for (auto& l : s->labels) l = static_cast<int32_t>(rng.below(kClasses));
  return data::Dataset(s);
}

nn::ModelSpec model_of(const Options& o) {
  nn::ModelSpec spec = nn::parse_model_spec(o.model);
  spec.init = nn::Init::FanInUniform;  // as torch.nn.Linear, so that the losses are comparable
  return spec;
}

bool has_convolution(const nn::ModelSpec& spec) {
  for (const nn::LayerSpec& l : spec.layers(kClasses)) {
    if (l.kind == nn::LayerKind::Conv) return true;
  }
  return false;
}

train::TrainOptions train_options(const Options& o, int64_t iterations, uint64_t seed,
                                  Device device) {
  train::TrainOptions t;
  t.epochs = o.epochs;
  t.iterations = iterations;
  t.batch = o.batch;
  t.seed = seed;
  t.device = device;
  return t;
}

struct Result {
  double seconds = 0;
  int64_t steps = 0;
  std::vector<double> losses;
};

double seconds_of(const std::function<void()>& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

Result run_single(const Options& o, const data::Dataset& train, Device device) {
  auto make = [&](int64_t iterations, Result* out) {
    auto model = nn::build_model(model_of(o), train.shape(), train.classes(), o.seed);
    model->to(device);
    optim::Sgd sgd(model->parameters(), {.lr = 0.05, .momentum = 0.9});
    nn::SoftmaxCrossEntropy loss;
    train::Trainer trainer(train_options(o, iterations, o.seed, device));
    if (out == nullptr) {
      trainer.fit(*model, sgd, loss, train);  // warm-up
      return;
    }
    train::History h;
    out->seconds = seconds_of([&] { h = trainer.fit(*model, sgd, loss, train); });
    out->steps = h.iterations;
    out->losses = {h.final_train_loss};
  };
  make(1, nullptr);
  Result r;
  make(o.limit_steps, &r);
  return r;
}

Result run_population(const Options& o, const data::Dataset& train, Device device) {
  auto configs = [&](int64_t iterations) {
    std::vector<train::MemberConfig> members;
    for (int p = 0; p < o.members; ++p) {
      train::MemberConfig c;
      c.model = model_of(o);
      const double lr = o.members == 1 ? 0.05 : 0.01 + 0.09 * p / (o.members - 1);
      c.sgd = {.lr = lr, .momentum = 0.9};
      const uint64_t seed = o.seed + static_cast<uint64_t>(p);
      c.train = train_options(o, iterations, seed, device);
      c.init_seed = seed;
      members.push_back(std::move(c));
    }
    return members;
  };
  {
    train::Population warm(configs(1), train.shape(), train.classes(), device);
    warm.fit(train);
  }
  train::Population pop(configs(o.limit_steps), train.shape(), train.classes(), device);
  std::vector<train::History> hs;
  Result r;
  r.seconds = seconds_of([&] { hs = pop.fit(train); });
  r.steps = hs.empty() ? 0 : hs.front().iterations;
  for (const auto& h : hs) r.losses.push_back(h.final_train_loss);
  return r;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<int>(c));
      continue;
    }
    out += c;
  }
  return out + "\"";
}

int run(const Options& o) {
  const Device device = parse_device(o.device, "--device");
  if (auto why = backend::device_problem(device); !why.empty()) {
    fmt::print(stderr, "krill_gpu_bench: --device {}: {}\n", o.device, why);
    return 2;
  }
  if (o.check) return 0;
  if (o.mode != "single" && o.mode != "population") {
    throw InvalidArgument("--mode is '" + o.mode + "', expected single or population");
  }
  if (o.batch < 1 || o.members < 1 || o.epochs < 1 || o.limit_steps < 0) {
    throw InvalidArgument("--batch, --members and --epochs must be at least 1, --limit-steps >= 0");
  }
  const int threads = o.threads > 0
                          ? o.threads
                          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  backend::backend(Device::Cpu).set_threads(threads);

  const data::Dataset train =
      o.data.empty() ? synthetic_mnist(o.seed) : data::load_idx(data::resolve_data(o.data)).train;
  const bool population = o.mode == "population";
  const Result r = population ? run_population(o, train, device) : run_single(o, train, device);

  const int members = population ? o.members : 1;
  const int64_t per_epoch = data::batches_per_epoch(train.size(), o.batch);
  const double epochs = static_cast<double>(r.steps) / static_cast<double>(per_epoch);
  std::string losses;
  for (size_t i = 0; i < r.losses.size() && i < static_cast<size_t>(kLossesShown); ++i) {
    losses += fmt::format("{}{:.6g}", i ? "," : "", r.losses[i]);
  }
  fmt::print(
      "{{\"engine\":\"krill\",\"mode\":\"{}\",\"device\":\"{}\",\"batch\":{},\"members\":{},"
      "\"epochs\":{:.6g},\"steps\":{},\"seconds\":{:.6g},\"model_epochs_per_second\":{:.6g},"
      "\"final_losses\":[{}],\"data\":{},\"threads\":{},\"model\":{},\"model_kind\":\"{}\"}}\n",
      o.mode, o.device, o.batch, members, epochs, r.steps, r.seconds, members * epochs / r.seconds,
      losses, json_string(o.data.empty() ? "synthetic" : o.data), threads, json_string(o.model),
      has_convolution(model_of(o)) ? "conv" : "dense");
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"krill's side of the GPU benchmark (issue 13): MLP training time, one JSON line"};
  Options o;
  app.add_option("--device", o.device, "cpu or cuda")->capture_default_str();
  app.add_option("--data", o.data, "IDX folder (default: synthetic data of MNIST's shape)");
  app.add_option("--mode", o.mode, "single or population")->capture_default_str();
  app.add_option("--model", o.model, "the model, as krill's model spec")->capture_default_str();
  app.add_option("--batch", o.batch, "batch size")->capture_default_str();
  app.add_option("--members", o.members, "population size (population mode)")
      ->capture_default_str();
  app.add_option("--epochs", o.epochs, "epochs (without --limit-steps)")->capture_default_str();
  app.add_option("--limit-steps", o.limit_steps, "train exactly N steps instead (the last given)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--threads", o.threads, "CPU threads (default: all cores)");
  app.add_option("--seed", o.seed, "seed of the data, weights and order")->capture_default_str();
  app.add_flag("--check", o.check,
               "only check that the device can be used (status 2 and why if not)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    return run(o);
  } catch (const std::exception& e) {
    fmt::print(stderr, "krill_gpu_bench: {}\n", e.what());
    return 2;
  }
}
