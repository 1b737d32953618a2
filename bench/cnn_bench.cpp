// Micro-benchmarks of the LeNet-like CNN of ../shared/baselines/torch_train.py --model cnn:
//   conv 1->32 5x5, relu, maxpool 2, conv 32->64 5x5, relu, maxpool 2, flatten, dense 1024->10
// on [1, 28, 28] images (28 -conv-> 24 -pool-> 12 -conv-> 8 -pool-> 4).
//  - BM_CnnTrainStep/<batch>: one full krill step (forward, loss, backward, SGD update) on a fixed
//    batch; GFLOPS counts the step's multiply-adds (convolutions and dense: forward, weight
//    gradient, input gradient except for the first layer) over its time.
//  - BM_CnnLayer/<layer>/<batch>: forward + backward of one layer of that network alone (layer
//    numbers as in Sequential: 0 conv1, 1 relu, 2 pool1, 3 conv2, ..., 7 dense).
// Threads: KRILL_THREADS (default 1), as in mlp_bench.cpp.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>
#include <vector>

#include "backend/backend.hpp"
#include "core/rng.hpp"
#include "nn/activations.hpp"
#include "nn/conv2d.hpp"
#include "nn/dense.hpp"
#include "nn/flatten.hpp"
#include "nn/losses.hpp"
#include "nn/pool2d.hpp"
#include "nn/sequential.hpp"
#include "optim/sgd.hpp"

namespace {

using namespace krill;

int threads_from_env() {
  const char* t = std::getenv("KRILL_THREADS");
  return t ? std::max(1, std::atoi(t)) : 1;
}

Tensor random_tensor(Shape shape, uint64_t seed) {
  Tensor t(shape);
  Rng rng(seed);
  for (float& v : t.values()) v = rng.uniform(0.0f, 1.0f);
  return t;
}

std::unique_ptr<nn::Sequential> lenet() {
  nn::Conv2d conv1({1, 28, 28}, 32, 5, {.init = nn::Init::FanInUniform});
  nn::MaxPool2d pool1(conv1.output_shape(), 2);
  nn::Conv2d conv2(pool1.output_shape(), 64, 5, {.init = nn::Init::FanInUniform});
  nn::MaxPool2d pool2(conv2.output_shape(), 2);
  nn::Flatten flatten(pool2.output_shape());
  nn::Dense dense(flatten.features(), 10, nn::Init::FanInUniform);
  auto net = std::make_unique<nn::Sequential>(std::move(conv1), nn::Relu(), std::move(pool1),
                                              std::move(conv2), nn::Relu(), std::move(pool2),
                                              std::move(flatten), std::move(dense));
  Rng rng(1);
  net->reset(rng);
  return net;
}

// Multiply-adds x 2 of one step at batch b: forward, weight gradient and (but for conv1) input
// gradient of each conv (OC * C*k*k * OH*OW per sample) and of the dense layer.
double step_flops(int64_t b) {
  const double conv1 = 32.0 * 25 * 24 * 24, conv2 = 64.0 * 800 * 8 * 8, dense = 1024.0 * 10;
  return 2.0 * static_cast<double>(b) * (2 * conv1 + 3 * conv2 + 3 * dense);
}

std::vector<int32_t> labels(int64_t b) {
  std::vector<int32_t> y(static_cast<size_t>(b));
  for (int64_t i = 0; i < b; ++i) y[static_cast<size_t>(i)] = static_cast<int32_t>(i % 10);
  return y;
}

void BM_CnnTrainStep(benchmark::State& state) {
  backend::backend(Device::Cpu).set_threads(threads_from_env());
  const int64_t b = state.range(0);
  auto net = lenet();
  optim::Sgd sgd(net->parameters(), {.lr = 0.01});
  nn::SoftmaxCrossEntropy loss;
  Tensor x = random_tensor({b, 784}, 5);
  const std::vector<int32_t> y = labels(b);
  for (auto _ : state) {
    const auto& out = net->forward(x, nn::Mode::Train);
    benchmark::DoNotOptimize(loss.forward(out, y));
    net->backward(loss.backward());
    sgd.step();
  }
  state.SetItemsProcessed(state.iterations() * b);
  state.counters["GFLOPS"] =
      benchmark::Counter(step_flops(b) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_CnnLayer(benchmark::State& state) {
  backend::backend(Device::Cpu).set_threads(threads_from_env());
  const auto layer = static_cast<size_t>(state.range(0));
  const int64_t b = state.range(1);
  auto net = lenet();
  Tensor x = random_tensor({b, 784}, 5);
  const Tensor* h = &x;
  for (size_t i = 0; i < layer; ++i) h = &(*net)[i].forward(*h, nn::Mode::Train);
  nn::Module& m = (*net)[layer];
  state.SetLabel(m.describe());
  const Tensor dy = random_tensor(m.forward(*h, nn::Mode::Train).shape(), 6);
  for (auto _ : state) {
    m.forward(*h, nn::Mode::Train);
    m.backward(dy);
  }
  state.SetItemsProcessed(state.iterations() * b);
}

BENCHMARK(BM_CnnTrainStep)->Arg(64)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CnnLayer)->ArgsProduct({{0, 1, 2, 3, 4, 5, 7}, {64}})->Unit(benchmark::kMicrosecond);

}  // namespace
