// Kernels chosen by measurement (issue 12): each candidate library on the operations krill runs,
// in krill's own layouts, so that the CPU backend's choice per operation rests on numbers
// (docs/ARCHITECTURE.md, "Kernels chosen by measurement"; docs/BENCHMARKS.md).
//  - BM_SgemmPeak_<impl>: a 2048^3 sgemm (OpenBLAS, oneDNN), the machine's practical
//    single-precision peak.
//  - BM_Conv<Op>_<impl>/<layer>: LeNet's conv1 (1->32, 5x5, 28x28) and conv2 (32->64, 5x5,
//    12x12) at batch 64, forward / backward-data / backward-weights (+ bias). "im2col" is krill's
//    im2col + GEMM path (backend/cpu/im2col.hpp; its GEMMs through the backend); "onednn_plain" is
//    oneDNN given NCHW/OIHW memory as krill stores it; "onednn_any" lets oneDNN choose its
//    (blocked) layouts and counts the reorders from and to krill's layout. krill's backward
//    computes data and weights in one pass (the columns are made once): its BackwardData time is
//    (weights + data) - weights-only.
//  - BM_Dense_<impl>/<shape>/<batch>: the eight GEMMs of a 784-512-256-10 MLP step, row-major as
//    nn/dense.cpp calls them: OpenBLAS, oneDNN's dnnl_sgemm, libxsmm's JIT kernels (one kernel per
//    thread, the rows of C split over the team).
// Threads: KRILL_THREADS (default 1), as the other benches; every library runs on krill's OpenMP
// team of that size. Built only when oneDNN and libxsmm are found (bench/CMakeLists.txt).
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <libxsmm.h>
#include <omp.h>

#include <cstdlib>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "backend/cpu/im2col.hpp"
#include "core/rng.hpp"

namespace {

using namespace krill;
using backend::Transpose;

int threads_from_env() {
  const char* t = std::getenv("KRILL_THREADS");
  return t ? std::max(1, std::atoi(t)) : 1;
}

backend::Backend& cpu() {
  auto& be = backend::backend(Device::Cpu);
  be.set_threads(threads_from_env());
  return be;
}

Tensor random_tensor(Shape shape, uint64_t seed) {
  Tensor t(shape);
  Rng rng(seed);
  for (float& v : t.values()) v = rng.uniform(-1.0f, 1.0f);
  return t;
}

void set_flops(benchmark::State& state, double flops) {
  state.counters["GFLOPS"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// OpenBLAS directly (the backend's gemm may take oneDNN).
void openblas_sgemm(Transpose ta, Transpose tb, int64_t m, int64_t n, int64_t k, const float* a,
                    int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta == Transpose::Yes ? CblasTrans : CblasNoTrans,
              tb == Transpose::Yes ? CblasTrans : CblasNoTrans, static_cast<blasint>(m),
              static_cast<blasint>(n), static_cast<blasint>(k), 1.0f, a, static_cast<blasint>(lda),
              b, static_cast<blasint>(ldb), 0.0f, c, static_cast<blasint>(ldc));
}

void BM_SgemmPeak_openblas(benchmark::State& state) {
  cpu();
  const int64_t n = state.range(0);
  Tensor a = random_tensor({n, n}, 1), b = random_tensor({n, n}, 2), c({n, n});
  for (auto _ : state) {
    openblas_sgemm(Transpose::No, Transpose::No, n, n, n, a.data(), n, b.data(), n, c.data(), n);
  }
  set_flops(state, 2.0 * n * n * n);
}

void BM_SgemmPeak_onednn(benchmark::State& state) {
  cpu();
  const int64_t n = state.range(0);
  Tensor a = random_tensor({n, n}, 1), b = random_tensor({n, n}, 2), c({n, n});
  for (auto _ : state) {
    dnnl_sgemm('N', 'N', n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
  }
  set_flops(state, 2.0 * n * n * n);
}
BENCHMARK(BM_SgemmPeak_openblas)->Arg(2048)->Unit(benchmark::kMillisecond)->MinTime(1.0);
BENCHMARK(BM_SgemmPeak_onednn)->Arg(2048)->Unit(benchmark::kMillisecond)->MinTime(1.0);

// ---------------------------------------------------------------------------------------------
// Convolution

constexpr int64_t kConvBatch = 64;

backend::Conv2dGeometry conv_layer(int64_t layer) {
  if (layer == 1) return {.input = {1, 28, 28}, .out_channels = 32, .kernel = 5};
  return {.input = {32, 12, 12}, .out_channels = 64, .kernel = 5};
}

double conv_flops(const backend::Conv2dGeometry& g) {
  return 2.0 * kConvBatch * g.out_channels * g.patch_size() * g.out_height() * g.out_width();
}

struct ConvData {
  backend::Conv2dGeometry g;
  Tensor x, w, b, y, dy, dx, dw, db, workspace;
  explicit ConvData(int64_t layer)
      : g(conv_layer(layer)),
        x(random_tensor({kConvBatch, g.input.numel()}, 1)),
        w(random_tensor({g.out_channels, g.patch_size()}, 2)),
        b(random_tensor({g.out_channels}, 3)),
        y({kConvBatch, g.output().numel()}),
        dy(random_tensor({kConvBatch, g.output().numel()}, 4)),
        dx({kConvBatch, g.input.numel()}),
        dw({g.out_channels, g.patch_size()}),
        db({g.out_channels}) {}
};

void BM_ConvForward_im2col(benchmark::State& state) {
  auto& be = cpu();
  ConvData d(state.range(0));
  for (auto _ : state) backend::im2col_conv2d_forward(be, d.g, d.x, d.w, d.b, d.y, d.workspace);
  set_flops(state, conv_flops(d.g));
}

void BM_ConvBackwardWeights_im2col(benchmark::State& state) {
  auto& be = cpu();
  ConvData d(state.range(0));
  for (auto _ : state) {
    backend::im2col_conv2d_backward(be, d.g, d.x, d.dy, d.w, d.dw, d.db, nullptr, d.workspace);
  }
  set_flops(state, conv_flops(d.g));
}

void BM_ConvBackwardBoth_im2col(benchmark::State& state) {
  auto& be = cpu();
  ConvData d(state.range(0));
  for (auto _ : state) {
    backend::im2col_conv2d_backward(be, d.g, d.x, d.dy, d.w, d.dw, d.db, &d.dx, d.workspace);
  }
  set_flops(state, 2 * conv_flops(d.g));
}

// oneDNN's three convolution primitives on krill's NCHW tensors. With `blocked`, the primitives
// are created with format_tag::any and every operand that oneDNN wants in another layout goes
// through a reorder, which is timed with the primitive (the weights change every step, so their
// reorder is paid every step too).
class OnednnConv {
 public:
  OnednnConv(const backend::Conv2dGeometry& g, bool blocked)
      : engine_(dnnl::engine::kind::cpu, 0), stream_(engine_) {
    using tag = dnnl::memory::format_tag;
    using dt = dnnl::memory::data_type;
    const dnnl::memory::dims src{kConvBatch, g.input.channels, g.input.height, g.input.width};
    const dnnl::memory::dims wei{g.out_channels, g.input.channels, g.kernel, g.kernel};
    const dnnl::memory::dims bias{g.out_channels};
    const dnnl::memory::dims dst{kConvBatch, g.out_channels, g.out_height(), g.out_width()};
    const dnnl::memory::dims strides{g.stride, g.stride}, pad{g.padding, g.padding};
    user_src_ = {src, dt::f32, tag::nchw};
    user_wei_ = {wei, dt::f32, tag::oihw};
    user_dst_ = {dst, dt::f32, tag::nchw};
    const dnnl::memory::desc bias_md{bias, dt::f32, tag::x};
    auto md = [&](const dnnl::memory::dims& dims, tag plain) {
      return dnnl::memory::desc(dims, dt::f32, blocked ? tag::any : plain);
    };
    const auto src_md = md(src, tag::nchw), wei_md = md(wei, tag::oihw),
               dst_md = md(dst, tag::nchw);
    const auto algo = dnnl::algorithm::convolution_direct;
    fwd_pd_ = {{dnnl::prop_kind::forward_training, algo, src_md, wei_md, bias_md, dst_md, strides,
                pad, pad},
               engine_};
    bwd_data_pd_ = {{algo, src_md, wei_md, dst_md, strides, pad, pad}, engine_, fwd_pd_};
    bwd_weights_pd_ = {
        {algo, src_md, wei_md, bias_md, dst_md, strides, pad, pad}, engine_, fwd_pd_};
    fwd_ = dnnl::convolution_forward(fwd_pd_);
    bwd_data_ = dnnl::convolution_backward_data(bwd_data_pd_);
    bwd_weights_ = dnnl::convolution_backward_weights(bwd_weights_pd_);
  }

  std::string impls() const {
    return std::string(fwd_pd_.impl_info_str()) + " | " + bwd_data_pd_.impl_info_str() + " | " +
           bwd_weights_pd_.impl_info_str();
  }

  void forward(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y) {
    auto src = in(user_src_, x, fwd_pd_.src_desc(), src_buf_);
    auto wei = in(user_wei_, w, fwd_pd_.weights_desc(), wei_buf_);
    auto dst = out_memory(fwd_pd_.dst_desc(), user_dst_, y, dst_buf_);
    fwd_.execute(stream_, {{DNNL_ARG_SRC, src},
                           {DNNL_ARG_WEIGHTS, wei},
                           {DNNL_ARG_BIAS, user(bias_md(b), b)},
                           {DNNL_ARG_DST, dst}});
    out(dst, user_dst_, y);
    stream_.wait();
  }

  void backward_data(const Tensor& dy, const Tensor& w, Tensor& dx) {
    auto diff_dst = in(user_dst_, dy, bwd_data_pd_.diff_dst_desc(), dst_buf_);
    auto wei = in(user_wei_, w, bwd_data_pd_.weights_desc(), wei_buf_);
    auto diff_src = out_memory(bwd_data_pd_.diff_src_desc(), user_src_, dx, src_buf_);
    bwd_data_.execute(
        stream_,
        {{DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DIFF_SRC, diff_src}});
    out(diff_src, user_src_, dx);
    stream_.wait();
  }

  void backward_weights(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor& db) {
    auto src = in(user_src_, x, bwd_weights_pd_.src_desc(), src_buf_);
    auto diff_dst = in(user_dst_, dy, bwd_weights_pd_.diff_dst_desc(), dst_buf_);
    auto diff_wei = out_memory(bwd_weights_pd_.diff_weights_desc(), user_wei_, dw, wei_buf_);
    bwd_weights_.execute(stream_, {{DNNL_ARG_SRC, src},
                                   {DNNL_ARG_DIFF_DST, diff_dst},
                                   {DNNL_ARG_DIFF_WEIGHTS, diff_wei},
                                   {DNNL_ARG_DIFF_BIAS, user(bias_md(db), db)}});
    out(diff_wei, user_wei_, dw);
    stream_.wait();
  }

 private:
  static dnnl::memory::desc bias_md(const Tensor& b) {
    return {{b.numel()}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::x};
  }
  dnnl::memory user(const dnnl::memory::desc& md, const Tensor& t) {
    return {md, engine_, const_cast<float*>(t.data())};
  }
  // krill's tensor as the primitive's operand, reordered into `buf` if the primitive wants another
  // layout.
  dnnl::memory in(const dnnl::memory::desc& user_md, const Tensor& t,
                  const dnnl::memory::desc& want, std::vector<float>& buf) {
    auto mem = user(user_md, t);
    if (want == user_md) return mem;
    buf.resize(want.get_size() / sizeof(float));
    dnnl::memory converted(want, engine_, buf.data());
    dnnl::reorder(mem, converted).execute(stream_, mem, converted);
    return converted;
  }
  dnnl::memory out_memory(const dnnl::memory::desc& have, const dnnl::memory::desc& user_md,
                          Tensor& t, std::vector<float>& buf) {
    if (have == user_md) return user(user_md, t);
    buf.resize(have.get_size() / sizeof(float));
    return {have, engine_, buf.data()};
  }
  void out(dnnl::memory& produced, const dnnl::memory::desc& user_md, Tensor& t) {
    if (produced.get_desc() == user_md) return;
    auto mem = user(user_md, t);
    dnnl::reorder(produced, mem).execute(stream_, produced, mem);
  }

  dnnl::engine engine_;
  dnnl::stream stream_;
  dnnl::memory::desc user_src_, user_wei_, user_dst_;
  dnnl::convolution_forward::primitive_desc fwd_pd_;
  dnnl::convolution_backward_data::primitive_desc bwd_data_pd_;
  dnnl::convolution_backward_weights::primitive_desc bwd_weights_pd_;
  dnnl::convolution_forward fwd_;
  dnnl::convolution_backward_data bwd_data_;
  dnnl::convolution_backward_weights bwd_weights_;
  std::vector<float> src_buf_, wei_buf_, dst_buf_;
};

template <bool Blocked>
void BM_ConvForward_onednn(benchmark::State& state) {
  cpu();
  ConvData d(state.range(0));
  OnednnConv conv(d.g, Blocked);
  state.SetLabel(conv.impls());
  for (auto _ : state) conv.forward(d.x, d.w, d.b, d.y);
  set_flops(state, conv_flops(d.g));
}

template <bool Blocked>
void BM_ConvBackwardData_onednn(benchmark::State& state) {
  cpu();
  ConvData d(state.range(0));
  OnednnConv conv(d.g, Blocked);
  for (auto _ : state) conv.backward_data(d.dy, d.w, d.dx);
  set_flops(state, conv_flops(d.g));
}

template <bool Blocked>
void BM_ConvBackwardWeights_onednn(benchmark::State& state) {
  cpu();
  ConvData d(state.range(0));
  OnednnConv conv(d.g, Blocked);
  for (auto _ : state) conv.backward_weights(d.x, d.dy, d.dw, d.db);
  set_flops(state, conv_flops(d.g));
}

BENCHMARK(BM_ConvForward_im2col)->Arg(1)->Arg(2)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ConvForward_onednn<false>)
    ->Name("BM_ConvForward_onednn_plain")
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ConvForward_onednn<true>)
    ->Name("BM_ConvForward_onednn_any")
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ConvBackwardBoth_im2col)->Arg(1)->Arg(2)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ConvBackwardWeights_im2col)->Arg(1)->Arg(2)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ConvBackwardData_onednn<false>)
    ->Name("BM_ConvBackwardData_onednn_plain")
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ConvBackwardData_onednn<true>)
    ->Name("BM_ConvBackwardData_onednn_any")
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ConvBackwardWeights_onednn<false>)
    ->Name("BM_ConvBackwardWeights_onednn_plain")
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ConvBackwardWeights_onednn<true>)
    ->Name("BM_ConvBackwardWeights_onednn_any")
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMicrosecond);

// ---------------------------------------------------------------------------------------------
// Dense: the eight GEMMs of a 784-512-256-10 step, row-major C[m, n] = op(A)[m, k] op(B)[k, n].

struct GemmShape {
  const char* name;
  Transpose ta, tb;
  int64_t m_per_batch, m, n, k;  // m = m_per_batch * batch + m, likewise k (see dims())
  int64_t k_per_batch;
};

// Forward y = x W^T (m = batch), weight gradient dW = dy^T x (k = batch), input gradient dx = dy W.
const GemmShape kShapes[] = {
    {"fwd1 Bx784*784x512T", Transpose::No, Transpose::Yes, 1, 0, 512, 784, 0},
    {"fwd2 Bx512*512x256T", Transpose::No, Transpose::Yes, 1, 0, 256, 512, 0},
    {"fwd3 Bx256*256x10T", Transpose::No, Transpose::Yes, 1, 0, 10, 256, 0},
    {"dW3 10xB*Bx256", Transpose::Yes, Transpose::No, 0, 10, 256, 0, 1},
    {"dx3 Bx10*10x256", Transpose::No, Transpose::No, 1, 0, 256, 10, 0},
    {"dW2 256xB*Bx512", Transpose::Yes, Transpose::No, 0, 256, 512, 0, 1},
    {"dx2 Bx256*256x512", Transpose::No, Transpose::No, 1, 0, 512, 256, 0},
    {"dW1 512xB*Bx784", Transpose::Yes, Transpose::No, 0, 512, 784, 0, 1},
};

struct GemmData {
  Transpose ta, tb;
  int64_t m, n, k, lda, ldb, ldc;
  Tensor a, b, c;
  GemmData(const GemmShape& s, int64_t batch)
      : ta(s.ta),
        tb(s.tb),
        m(s.m_per_batch * batch + s.m),
        n(s.n),
        k(s.k_per_batch * batch + s.k),
        lda(ta == Transpose::No ? k : m),
        ldb(tb == Transpose::No ? n : k),
        ldc(n),
        a(random_tensor({m * k}, 1)),
        b(random_tensor({k * n}, 2)),
        c(random_tensor({m * n}, 3)) {}
  double flops() const { return 2.0 * static_cast<double>(m) * n * k; }
};

void BM_Dense_openblas(benchmark::State& state) {
  auto& be = cpu();
  const GemmShape& s = kShapes[state.range(0)];
  GemmData d(s, state.range(1));
  state.SetLabel(s.name);
  for (auto _ : state) {
    be.gemm(d.ta, d.tb, d.m, d.n, d.k, 1.0f, d.a.data(), d.lda, d.b.data(), d.ldb, 0.0f, d.c.data(),
            d.ldc);
  }
  set_flops(state, d.flops());
}

void BM_Dense_onednn(benchmark::State& state) {
  cpu();
  const GemmShape& s = kShapes[state.range(0)];
  GemmData d(s, state.range(1));
  state.SetLabel(s.name);
  const char ta = d.ta == Transpose::Yes ? 'T' : 'N', tb = d.tb == Transpose::Yes ? 'T' : 'N';
  for (auto _ : state) {
    dnnl_sgemm(ta, tb, d.m, d.n, d.k, 1.0f, d.a.data(), d.lda, d.b.data(), d.ldb, 0.0f, d.c.data(),
               d.ldc);
  }
  set_flops(state, d.flops());
}

// libxsmm is column-major: row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T, so
// the kernel gets (M, N) = (n, rows of C) with B as its first operand. A team of T threads splits
// the rows of C (the kernel's N) into T parts, one JIT kernel per part.
void BM_Dense_libxsmm(benchmark::State& state) {
  const int threads = cpu().threads();
  const GemmShape& s = kShapes[state.range(0)];
  GemmData d(s, state.range(1));
  state.SetLabel(s.name);
  libxsmm_init();
  const int flags = (d.tb == Transpose::Yes ? LIBXSMM_GEMM_FLAG_TRANS_A : 0) |
                    (d.ta == Transpose::Yes ? LIBXSMM_GEMM_FLAG_TRANS_B : 0);
  const float alpha = 1.0f, beta = 0.0f;
  const int64_t rows = (d.m + threads - 1) / threads;
  std::vector<libxsmm_smmfunction> kernels;
  for (int t = 0; t < threads; ++t) {
    const int64_t first = t * rows, count = std::min(rows, d.m - first);
    const libxsmm_blasint mm = d.n, nn = count, kk = d.k, lda = d.ldb, ldb = d.lda, ldc = d.ldc;
    kernels.push_back(
        libxsmm_smmdispatch(mm, nn, kk, &lda, &ldb, &ldc, &alpha, &beta, &flags, nullptr));
    if (!kernels.back()) {
      state.SkipWithError("libxsmm: no JIT kernel for this shape or transpose");
      return;
    }
  }
  auto run = [&](int t) {
    const int64_t first = t * rows;
    // op(A)'s rows `first...`: contiguous rows of A, or columns of a transposed A.
    const float* a = d.a.data() + (d.ta == Transpose::No ? first * d.lda : first);
    kernels[static_cast<size_t>(t)](d.b.data(), a, d.c.data() + first * d.ldc);
  };
  for (auto _ : state) {
    if (threads > 1) {
#pragma omp parallel num_threads(threads)
      run(omp_get_thread_num());
    } else {
      run(0);
    }
  }
  set_flops(state, d.flops());
}

void dense_args(benchmark::internal::Benchmark* b) {
  for (int64_t batch : {32, 256}) {
    for (int64_t shape = 0; shape < 8; ++shape) b->Args({shape, batch});
  }
}
BENCHMARK(BM_Dense_openblas)->Apply(dense_args)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Dense_onednn)->Apply(dense_args)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Dense_libxsmm)->Apply(dense_args)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
