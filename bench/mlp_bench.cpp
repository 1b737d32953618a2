// Micro-benchmarks of the 784-512-256-10 MLP:
//  - BM_GemmFloor: only the GEMMs one training step needs, as krill's backend runs them (3 forward,
//  3 weight-gradient
//    and 2 input-gradient products: the first layer needs no input gradient). No engine can train
//    faster than this with the same BLAS; the goal is krill within 80% of it.
//  - BM_TrainStep: one full krill step (forward, loss, backward, SGD update) on a fixed batch.
//  - BM_SgemmPeak: one 2048^3 sgemm through krill's backend (oneDNN where built with it), and
//    BM_SgemmPeakOpenblas: OpenBLAS's, BM_SgemmPeakOnednn: oneDNN's (when built with it); the
//    fastest is the machine's practical single-precision peak,
//    which bench/train_vs_torch.py divides an epoch's useful FLOP/s by.
// Threads: --threads is read from the environment variable KRILL_THREADS (default 1).
#include <benchmark/benchmark.h>
#include <cblas.h>
#ifdef KRILL_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#endif

#include <cstdlib>
#include <vector>

#include "backend/backend.hpp"
#include "core/rng.hpp"
#include "nn/losses.hpp"
#include "nn/model_spec.hpp"
#include "optim/sgd.hpp"

namespace {

using krill::backend::Transpose;

int threads_from_env() {
  const char* t = std::getenv("KRILL_THREADS");
  return t ? std::max(1, std::atoi(t)) : 1;
}

std::vector<float> random_values(size_t n, uint64_t seed) {
  krill::Rng rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = rng.uniform(-0.1f, 0.1f);
  return v;
}

void BM_GemmFloor(benchmark::State& state) {
  auto& be = krill::backend::backend(krill::Device::Cpu);
  be.set_threads(threads_from_env());
  const int64_t b = state.range(0);
  const int64_t dims[] = {784, 512, 256, 10};
  std::vector<std::vector<float>> w, dw, act, grad;
  for (int l = 0; l < 3; ++l) {
    w.push_back(random_values(static_cast<size_t>(dims[l] * dims[l + 1]), 1 + l));
    dw.emplace_back(static_cast<size_t>(dims[l] * dims[l + 1]));
  }
  for (int l = 0; l < 4; ++l) {
    act.push_back(random_values(static_cast<size_t>(b * dims[l]), 10 + l));
    grad.push_back(random_values(static_cast<size_t>(b * dims[l]), 20 + l));
  }
  for (auto _ : state) {
    for (int l = 0; l < 3; ++l) {  // y = x W^T
      be.gemm(Transpose::No, Transpose::Yes, b, dims[l + 1], dims[l], 1.0f, act[l].data(), dims[l],
              w[l].data(), dims[l], 0.0f, act[l + 1].data(), dims[l + 1]);
    }
    for (int l = 2; l >= 0; --l) {  // dW = dy^T x; dx = dy W (not for the input)
      be.gemm(Transpose::Yes, Transpose::No, dims[l + 1], dims[l], b, 1.0f, grad[l + 1].data(),
              dims[l + 1], act[l].data(), dims[l], 0.0f, dw[l].data(), dims[l]);
      if (l > 0) {
        be.gemm(Transpose::No, Transpose::No, b, dims[l], dims[l + 1], 1.0f, grad[l + 1].data(),
                dims[l + 1], w[l].data(), dims[l], 0.0f, grad[l].data(), dims[l]);
      }
    }
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * b);
}

void BM_TrainStep(benchmark::State& state) {
  krill::backend::backend(krill::Device::Cpu).set_threads(threads_from_env());
  const int64_t b = state.range(0);
  auto net = krill::nn::build_model(krill::nn::parse_model_spec("mlp:512,256"), 784, 10, 1);
  krill::optim::Sgd sgd(net->parameters(), {.lr = 0.01});
  krill::nn::SoftmaxCrossEntropy loss;
  auto x_values = random_values(static_cast<size_t>(b * 784), 5);
  krill::Tensor x = krill::Tensor::from({b, 784}, x_values);
  std::vector<int32_t> labels(static_cast<size_t>(b));
  for (int64_t i = 0; i < b; ++i) labels[static_cast<size_t>(i)] = static_cast<int32_t>(i % 10);
  for (auto _ : state) {
    const auto& out = net->forward(x, krill::nn::Mode::Train);
    benchmark::DoNotOptimize(loss.forward(out, labels));
    net->backward(loss.backward());
    sgd.step();
  }
  state.SetItemsProcessed(state.iterations() * b);
}

void BM_SgemmPeak(benchmark::State& state) {
  auto& be = krill::backend::backend(krill::Device::Cpu);
  be.set_threads(threads_from_env());
  const int64_t n = state.range(0);
  auto a = random_values(static_cast<size_t>(n * n), 1),
       b = random_values(static_cast<size_t>(n * n), 2);
  std::vector<float> c(static_cast<size_t>(n * n));
  for (auto _ : state) {
    be.gemm(Transpose::No, Transpose::No, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(),
            n);
    benchmark::ClobberMemory();
  }
  state.counters["GFLOPS"] = benchmark::Counter(2e-9 * static_cast<double>(n * n * n),
                                                benchmark::Counter::kIsIterationInvariantRate);
}

void BM_SgemmPeakOpenblas(benchmark::State& state) {
  krill::backend::backend(krill::Device::Cpu).set_threads(threads_from_env());
  const int n = static_cast<int>(state.range(0));
  auto a = random_values(static_cast<size_t>(n) * n, 1),
       b = random_values(static_cast<size_t>(n) * n, 2);
  std::vector<float> c(static_cast<size_t>(n) * n);
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n,
                0.0f, c.data(), n);
    benchmark::ClobberMemory();
  }
  state.counters["GFLOPS"] = benchmark::Counter(2e-9 * static_cast<double>(n) * n * n,
                                                benchmark::Counter::kIsIterationInvariantRate);
}

#ifdef KRILL_HAVE_ONEDNN
// oneDNN's sgemm at any thread count (the backend takes it on one thread only).
void BM_SgemmPeakOnednn(benchmark::State& state) {
  krill::backend::backend(krill::Device::Cpu).set_threads(threads_from_env());
  const int64_t n = state.range(0);
  auto a = random_values(static_cast<size_t>(n * n), 1),
       b = random_values(static_cast<size_t>(n * n), 2);
  std::vector<float> c(static_cast<size_t>(n * n));
  for (auto _ : state) {
    dnnl_sgemm('N', 'N', n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_SgemmPeakOnednn)->Arg(2048)->Unit(benchmark::kMillisecond);
#endif

BENCHMARK(BM_SgemmPeak)->Arg(2048)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SgemmPeakOpenblas)->Arg(2048)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_GemmFloor)->Arg(32)->Arg(128)->Arg(256)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TrainStep)->Arg(32)->Arg(128)->Arg(256)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
