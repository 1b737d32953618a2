// The CUDA backend against the CPU backend, op by op (ggml's test-backend-ops): random inputs,
// each op run on both devices from the same values, the results compared within a tolerance
// stated per op. Every test skips, saying why, where backend::device_problem(Device::Cuda) is not
// empty (a build without CUDA, or no usable GPU); the last test runs everywhere and checks that
// message. Compiles with and without KRILL_HAVE_CUDA.
//
// Tolerances, as |cuda - cpu| <= tol * max(1, max |cpu|) over the output:
//   kExact       0     no arithmetic, or the same operations in the same order (argmax, max pool,
//                      counts, column sums, pooling sums)
//   kUlps        1e-6  element-wise math: CUDA's expf/tanhf/logf are within 2 ulp of glibc's
//   kStatistics  1e-5  batch norm and the losses: sums in double in another order, then a float
//                      rounding that can fall either side; a loss adds rows' logf/expf errors
//   kProducts    1e-4  GEMM and convolution: cuBLAS and OpenBLAS/oneDNN add k products in
//                      different orders (k up to a few hundred here: ~k * 2^-24 relative; the
//                      chunked population convolution's weight gradients sum 204,800 random-sign
//                      products, whose rounding errors add like a random walk, ~sqrt(k) * 2^-24)
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "backend/backend.hpp"
#include "core/error.hpp"
#include "core/rng.hpp"

#ifdef KRILL_HAVE_CUDA
#include "backend/cuda/cuda_backend.hpp"
#endif

namespace krill::backend {
namespace {

constexpr double kExact = 0.0;
constexpr double kUlps = 1e-6;
constexpr double kStatistics = 1e-5;
constexpr double kProducts = 1e-4;

using T = Transpose;

Backend& cpu() {
  return backend(Device::Cpu);
}

Tensor random_tensor(const Shape& shape, uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  Rng rng(seed);
  Tensor t(shape);
  for (float& v : t.values()) v = rng.uniform(lo, hi);
  return t;
}

// Values on a grid of `levels` steps, so that ties (argmax, max pooling) are common.
Tensor tied_tensor(const Shape& shape, uint64_t seed, int levels) {
  Rng rng(seed);
  Tensor t(shape);
  for (float& v : t.values()) v = std::floor(rng.uniform(0.0f, static_cast<float>(levels)));
  return t;
}

std::vector<int32_t> random_labels(int64_t count, int64_t classes, uint64_t seed) {
  Rng rng(seed);
  std::vector<int32_t> labels(static_cast<size_t>(count));
  for (int32_t& l : labels)
    l = static_cast<int32_t>(rng.uniform(0.0f, static_cast<float>(classes)));
  for (int32_t& l : labels) l = std::min<int32_t>(l, static_cast<int32_t>(classes - 1));
  return labels;
}

Tensor gpu_copy(const Tensor& t) {
  return t.to(Device::Cuda);
}

void expect_close(const Tensor& expected, const Tensor& actual_on_gpu, double tolerance,
                  const std::string& what) {
  ASSERT_EQ(actual_on_gpu.device(), Device::Cuda) << what;
  ASSERT_EQ(expected.shape(), actual_on_gpu.shape()) << what;
  const std::vector<float> actual = actual_on_gpu.to_host();
  double scale = 1.0;
  for (float v : expected.values()) scale = std::max(scale, static_cast<double>(std::abs(v)));
  double worst = 0.0;
  int64_t worst_at = -1;
  for (int64_t i = 0; i < expected.numel(); ++i) {
    const double diff = std::abs(static_cast<double>(expected[i]) - actual[static_cast<size_t>(i)]);
    if (!(diff <= worst) || worst_at < 0) {
      worst = diff;
      worst_at = i;
    }
  }
  if (worst_at < 0) return;
  EXPECT_LE(worst, tolerance * scale)
      << what << ": at " << worst_at << " cpu " << expected[worst_at] << ", cuda "
      << actual[static_cast<size_t>(worst_at)] << " (tolerance " << tolerance << " x " << scale
      << ")";
}

void expect_close(double expected, double actual, double tolerance, const std::string& what) {
  EXPECT_LE(std::abs(expected - actual), tolerance * std::max(1.0, std::abs(expected)))
      << what << ": cpu " << expected << ", cuda " << actual;
}

class CudaParity : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = device_problem(Device::Cuda); !why.empty()) GTEST_SKIP() << why;
  }
  static Backend& gpu() { return backend(Device::Cuda); }
};

// ---------------------------------------------------------------------------------------------
// GEMM

TEST_F(CudaParity, GemmEveryTransposeWithPaddedLeadingDimensions) {
  const int64_t m = 37, n = 29, k = 53, pad = 3;
  for (T ta : {T::No, T::Yes}) {
    for (T tb : {T::No, T::Yes}) {
      for (float beta : {0.0f, 0.3f}) {
        const int64_t a_rows = ta == T::No ? m : k, a_cols = ta == T::No ? k : m;
        const int64_t b_rows = tb == T::No ? k : n, b_cols = tb == T::No ? n : k;
        const int64_t lda = a_cols + pad, ldb = b_cols + pad, ldc = n + pad;
        Tensor a = random_tensor({a_rows, lda}, 1), b = random_tensor({b_rows, ldb}, 2);
        Tensor c = random_tensor({m, ldc}, 3);
        Tensor a_gpu = gpu_copy(a), b_gpu = gpu_copy(b), c_gpu = gpu_copy(c);
        cpu().gemm(ta, tb, m, n, k, 0.7f, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
        gpu().gemm(ta, tb, m, n, k, 0.7f, a_gpu.data(), lda, b_gpu.data(), ldb, beta, c_gpu.data(),
                   ldc);
        expect_close(c, c_gpu, kProducts,
                     std::string("gemm ") + (ta == T::Yes ? "T" : "N") +
                         (tb == T::Yes ? "T" : "N") + " beta " + std::to_string(beta));
      }
    }
  }
}

TEST_F(CudaParity, GemmStridedBatchedWithGapsAndASharedOperand) {
  const int64_t m = 8, n = 12, k = 20, count = 5;
  for (T ta : {T::No, T::Yes}) {
    for (T tb : {T::No, T::Yes}) {
      for (int64_t stride_a : {int64_t{0}, m * k + 7}) {  // 0: one A for every batch
        const int64_t lda = ta == T::No ? k : m, ldb = tb == T::No ? n : k;
        const int64_t stride_b = k * n + 5, stride_c = m * n + 3;
        Tensor a = random_tensor({std::max<int64_t>(stride_a * count, m * k)}, 4);
        Tensor b = random_tensor({stride_b * count}, 5), c = random_tensor({stride_c * count}, 6);
        Tensor a_gpu = gpu_copy(a), b_gpu = gpu_copy(b), c_gpu = gpu_copy(c);
        cpu().gemm_strided_batched(ta, tb, m, n, k, 1.0f, a.data(), lda, stride_a, b.data(), ldb,
                                   stride_b, 0.5f, c.data(), n, stride_c, count);
        gpu().gemm_strided_batched(ta, tb, m, n, k, 1.0f, a_gpu.data(), lda, stride_a, b_gpu.data(),
                                   ldb, stride_b, 0.5f, c_gpu.data(), n, stride_c, count);
        expect_close(c, c_gpu, kProducts,
                     "gemm_strided_batched, stride_a " + std::to_string(stride_a));
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Element-wise

TEST_F(CudaParity, BroadcastRowsAndColumnSums) {
  const int64_t rows = 33, cols = 17;
  Tensor v = random_tensor({cols}, 7), y({rows, cols}), v_gpu = gpu_copy(v);
  Tensor y_gpu({rows, cols}, Device::Cuda);
  cpu().broadcast_rows(v.data(), rows, cols, y.data());
  gpu().broadcast_rows(v_gpu.data(), rows, cols, y_gpu.data());
  expect_close(y, y_gpu, kExact, "broadcast_rows");

  Tensor x = random_tensor({rows, cols}, 8), x_gpu = gpu_copy(x);
  for (float beta : {0.0f, 1.0f, 0.5f}) {
    Tensor out = random_tensor({cols}, 9), out_gpu = gpu_copy(out);
    cpu().column_sums(x.data(), rows, cols, beta, out.data());
    gpu().column_sums(x_gpu.data(), rows, cols, beta, out_gpu.data());
    expect_close(out, out_gpu, kExact, "column_sums beta " + std::to_string(beta));
  }
}

TEST_F(CudaParity, ActivationsMultiplyAndScale) {
  const int64_t n = 5000;
  Tensor x = random_tensor({n}, 10, -6.0f, 6.0f), dy = random_tensor({n}, 11);
  Tensor x_gpu = gpu_copy(x), dy_gpu = gpu_copy(dy);
  struct Activation {
    const char* name;
    void (Backend::*forward)(const float*, float*, int64_t);
    void (Backend::*backward)(const float*, const float*, float*, int64_t);
  };
  for (const Activation& a :
       {Activation{"relu", &Backend::relu_forward, &Backend::relu_backward},
        Activation{"sigmoid", &Backend::sigmoid_forward, &Backend::sigmoid_backward},
        Activation{"tanh", &Backend::tanh_forward, &Backend::tanh_backward}}) {
    Tensor y({n}), dx({n}), y_gpu({n}, Device::Cuda), dx_gpu({n}, Device::Cuda);
    (cpu().*a.forward)(x.data(), y.data(), n);
    (gpu().*a.forward)(x_gpu.data(), y_gpu.data(), n);
    expect_close(y, y_gpu, kUlps, std::string(a.name) + " forward");
    // Backward from the CPU's y on both, so only the backward's own rounding is compared.
    Tensor y_from_cpu = gpu_copy(y);
    (cpu().*a.backward)(y.data(), dy.data(), dx.data(), n);
    (gpu().*a.backward)(y_from_cpu.data(), dy_gpu.data(), dx_gpu.data(), n);
    expect_close(dx, dx_gpu, kUlps, std::string(a.name) + " backward");
  }
  Tensor y({n}), y_gpu({n}, Device::Cuda);
  cpu().multiply(x.data(), dy.data(), y.data(), n);
  gpu().multiply(x_gpu.data(), dy_gpu.data(), y_gpu.data(), n);
  expect_close(y, y_gpu, kExact, "multiply");
  cpu().scale(x.data(), -0.37f, y.data(), n);
  gpu().scale(x_gpu.data(), -0.37f, y_gpu.data(), n);
  expect_close(y, y_gpu, kExact, "scale");
}

// Batches made on the device from uint8 images (train::DeviceImages): the same bits, rows in any
// order and repeated, every byte value among the pixels.
TEST_F(CudaParity, GatherImagesIsExact) {
  const int64_t images = 300, features = 13;
  std::vector<uint8_t> pixels(static_cast<size_t>(images * features));
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>((i * 37) % 256);
  const std::vector<int64_t> rows = {299, 0, 17, 17, 150, 3, 298, 64};
  const auto count = static_cast<int64_t>(rows.size());
  Allocator& memory = allocator(Device::Cuda);
  void* on_device = memory.allocate(pixels.size());
  memory.copy_from_host(on_device, pixels.data(), pixels.size());
  Tensor out({count, features}), out_gpu({count, features}, Device::Cuda);
  cpu().gather_images(pixels.data(), rows.data(), count, features, out.data());
  gpu().gather_images(static_cast<const uint8_t*>(on_device), rows.data(), count, features,
                      out_gpu.data());
  memory.deallocate(on_device);
  expect_close(out, out_gpu, kExact, "gather_images");
  EXPECT_EQ(out[features * 1 + 0], 0.0f);  // row 0's first pixel is byte 0
}

// The CUDA mask is not the CPU's (cuda_backend.hpp): checked against the law instead. Each value is
// kept with probability 1 - p, independently of its neighbour: the kept fraction and the fraction
// of kept neighbour pairs are within 5 standard deviations of 1 - p and (1 - p)^2.
TEST_F(CudaParity, DropoutFollowsTheLaw) {
  const int64_t n = int64_t{1} << 20;
  const float p = 0.3f;
  Tensor x = random_tensor({n}, 12), x_gpu = gpu_copy(x);
  Tensor y({n}, Device::Cuda), mask({n}, Device::Cuda), again({n}, Device::Cuda);
  gpu().dropout_forward(x_gpu.data(), y.data(), mask.data(), n, p, 42);
  const std::vector<float> m = mask.to_host(), values = y.to_host();
  int64_t kept = 0, kept_pairs = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float v = m[static_cast<size_t>(i)];
    ASSERT_TRUE(v == 0.0f || v == 1.0f / (1.0f - p)) << "mask " << v << " at " << i;
    ASSERT_EQ(values[static_cast<size_t>(i)], x[i] * v) << "at " << i;
    kept += v != 0.0f;
    if (i > 0) kept_pairs += v != 0.0f && m[static_cast<size_t>(i - 1)] != 0.0f;
  }
  const double q = 1.0 - p, q2 = q * q;
  EXPECT_NEAR(static_cast<double>(kept) / n, q, 5 * std::sqrt(q * (1 - q) / n));
  EXPECT_NEAR(static_cast<double>(kept_pairs) / (n - 1), q2, 5 * std::sqrt(q2 * (1 - q2) / n) * 2);

  gpu().dropout_forward(x_gpu.data(), y.data(), again.data(), n, p, 42);
  EXPECT_EQ(again.to_host(), m) << "the same seed draws the same mask";
  gpu().dropout_forward(x_gpu.data(), y.data(), again.data(), n, p, 43);
  EXPECT_NE(again.to_host(), m) << "another seed draws another mask";
  gpu().dropout_forward(x_gpu.data(), y.data(), again.data(), n, 0.0f, 44);
  for (float v : again.to_host()) ASSERT_EQ(v, 1.0f) << "p = 0 keeps everything";
}

// ---------------------------------------------------------------------------------------------
// Losses and accuracy

TEST_F(CudaParity, SoftmaxCrossEntropyForwardAndBackward) {
  const int64_t rows = 300, cols = 10;
  Tensor logits = random_tensor({rows, cols}, 13, -5.0f, 5.0f);
  for (int64_t c = 0; c < cols; ++c) logits[c] = c % 2 ? 1000.0f : -1000.0f;  // stability
  const std::vector<int32_t> labels = random_labels(rows, cols, 14);
  Tensor probs({rows, cols}), probs_gpu({rows, cols}, Device::Cuda), logits_gpu = gpu_copy(logits);
  const double loss =
      cpu().softmax_cross_entropy(logits.data(), labels.data(), rows, cols, probs.data());
  const double loss_gpu =
      gpu().softmax_cross_entropy(logits_gpu.data(), labels.data(), rows, cols, probs_gpu.data());
  ASSERT_TRUE(std::isfinite(loss_gpu));
  expect_close(loss, loss_gpu, kStatistics, "summed loss");
  expect_close(probs, probs_gpu, kUlps, "probabilities");

  Tensor dlogits({rows, cols}), dlogits_gpu({rows, cols}, Device::Cuda);
  Tensor probs_from_cpu = gpu_copy(probs);
  cpu().softmax_cross_entropy_backward(probs.data(), labels.data(), rows, cols, 1.0f / rows,
                                       dlogits.data());
  gpu().softmax_cross_entropy_backward(probs_from_cpu.data(), labels.data(), rows, cols,
                                       1.0f / rows, dlogits_gpu.data());
  expect_close(dlogits, dlogits_gpu, kExact, "dlogits");
}

TEST_F(CudaParity, SquaredError) {
  const int64_t n = 100000;
  Tensor pred = random_tensor({n}, 15), target = random_tensor({n}, 16);
  Tensor diff({n}), diff_gpu({n}, Device::Cuda), pred_gpu = gpu_copy(pred);
  Tensor target_gpu = gpu_copy(target);
  const double sum = cpu().squared_error(pred.data(), target.data(), n, diff.data());
  const double sum_gpu =
      gpu().squared_error(pred_gpu.data(), target_gpu.data(), n, diff_gpu.data());
  expect_close(sum, sum_gpu, 1e-10, "sum of squares (double sums of exact float products)");
  expect_close(diff, diff_gpu, kExact, "diff");
}

TEST_F(CudaParity, CountCorrectTakesTheFirstMaximum) {
  const int64_t rows = 1000, cols = 7;
  Tensor scores = tied_tensor({rows, cols}, 17, 3);  // many ties
  const std::vector<int32_t> labels = random_labels(rows, cols, 18);
  Tensor scores_gpu = gpu_copy(scores);
  EXPECT_EQ(cpu().count_correct(scores.data(), labels.data(), rows, cols),
            gpu().count_correct(scores_gpu.data(), labels.data(), rows, cols));
  EXPECT_EQ(gpu().count_correct(scores_gpu.data(), labels.data(), 0, cols), 0);
}

// ---------------------------------------------------------------------------------------------
// Image kernels

struct ConvCase {
  Conv2dGeometry g;
  int64_t batch;
};

std::string describe(const Conv2dGeometry& g) {
  return g.input.to_string() + " -> " + std::to_string(g.out_channels) + ", k" +
         std::to_string(g.kernel) + " s" + std::to_string(g.stride) + " p" +
         std::to_string(g.padding);
}

// A convolution's gradients on both devices, shaped as its weight, bias and input; the GPU's
// filled with NaN, so that an op that accumulates into them (or leaves one unwritten) fails.
struct ConvGradients {
  ConvGradients(const Tensor& w, const Tensor& b, const Tensor& x)
      : dw(w.shape()),
        db(b.shape()),
        dx(x.shape()),
        dw_gpu(w.shape(), Device::Cuda),
        db_gpu(b.shape(), Device::Cuda),
        dx_gpu(x.shape(), Device::Cuda) {
    for (Tensor* t : {&dw_gpu, &db_gpu, &dx_gpu}) t->fill(NAN);
  }
  Tensor dw, db, dx, dw_gpu, db_gpu, dx_gpu;
};

TEST_F(CudaParity, Conv2dForwardAndBackward) {
  const ConvCase cases[] = {
      {{.input = {3, 8, 8}, .out_channels = 4, .kernel = 3, .stride = 1, .padding = 1}, 3},
      {{.input = {2, 9, 7}, .out_channels = 3, .kernel = 3, .stride = 2, .padding = 0}, 4},
      {{.input = {5, 6, 6}, .out_channels = 4, .kernel = 1, .stride = 1, .padding = 0}, 2},
      {{.input = {1, 28, 28}, .out_channels = 6, .kernel = 5, .stride = 1, .padding = 2}, 5},
      {{.input = {16, 12, 12}, .out_channels = 32, .kernel = 5, .stride = 1, .padding = 0}, 3},
      {{.input = {3, 10, 10}, .out_channels = 2, .kernel = 4, .stride = 3, .padding = 2}, 2},
  };
  for (const ConvCase& cc : cases) {
    const Conv2dGeometry& g = cc.g;
    SCOPED_TRACE(describe(g) + ", batch " + std::to_string(cc.batch));
    Tensor x = random_tensor({cc.batch, g.input.numel()}, 19);
    Tensor w = random_tensor({g.out_channels, g.patch_size()}, 20);
    Tensor b = random_tensor({g.out_channels}, 21);
    Tensor dy = random_tensor({cc.batch, g.output().numel()}, 22);
    Tensor x_gpu = gpu_copy(x), w_gpu = gpu_copy(w), b_gpu = gpu_copy(b), dy_gpu = gpu_copy(dy);
    Tensor y({cc.batch, g.output().numel()}), y_gpu({cc.batch, g.output().numel()}, Device::Cuda);
    Tensor workspace, workspace_gpu;
    cpu().conv2d_forward(g, x, w, b, y, workspace);
    gpu().conv2d_forward(g, x_gpu, w_gpu, b_gpu, y_gpu, workspace_gpu);
    expect_close(y, y_gpu, kProducts, "y");

    ConvGradients grads(w, b, x);
    auto& [dw, db, dx, dw_gpu, db_gpu, dx_gpu] = grads;
    cpu().conv2d_backward(g, x, dy, w, dw, db, &dx, workspace);
    gpu().conv2d_backward(g, x_gpu, dy_gpu, w_gpu, dw_gpu, db_gpu, &dx_gpu, workspace_gpu);
    expect_close(dw, dw_gpu, kProducts, "dweight");
    expect_close(db, db_gpu, kProducts, "dbias");
    expect_close(dx, dx_gpu, kProducts, "dx");
    Tensor dw2_gpu(w.shape(), Device::Cuda), db2_gpu(b.shape(), Device::Cuda);
    gpu().conv2d_backward(g, x_gpu, dy_gpu, w_gpu, dw2_gpu, db2_gpu, nullptr, workspace_gpu);
    expect_close(dw, dw2_gpu, kProducts, "dweight without dx");
    expect_close(db, db2_gpu, kProducts, "dbias without dx");
  }
}

TEST_F(CudaParity, Conv2dEmptyBatchZeroesTheParameterGradients) {
  const Conv2dGeometry g{.input = {2, 4, 4}, .out_channels = 3, .kernel = 3};
  Tensor x({0, 32}, Device::Cuda), dy({0, 12}, Device::Cuda), w({3, 18}, Device::Cuda);
  Tensor dw({3, 18}, Device::Cuda), db({3}, Device::Cuda), workspace;
  dw.fill(5.0f);
  db.fill(5.0f);
  gpu().conv2d_backward(g, x, dy, w, dw, db, nullptr, workspace);
  for (float v : dw.to_host()) ASSERT_EQ(v, 0.0f);
  for (float v : db.to_host()) ASSERT_EQ(v, 0.0f);
}

// The population forms (train::Population): `members` of `rows` rows each, every member its own
// weights; on the CPU the single op per member, on CUDA one launch for all (im2col over every
// member's images and strided-batched GEMMs, in chunks of members that fit the workspace).
void expect_population_conv_close(const Conv2dGeometry& g, int64_t members, int64_t rows,
                                  bool backward) {
  const int64_t in = g.input.numel(), out = g.output().numel();
  const int64_t oc = g.out_channels, patch = g.patch_size();
  SCOPED_TRACE(describe(g) + ", " + std::to_string(members) + " members of " +
               std::to_string(rows) + " rows");
  Backend& gpu = backend(Device::Cuda);
  Tensor x = random_tensor({members * rows, in}, 60), w = random_tensor({members, oc * patch}, 61);
  Tensor b = random_tensor({members, oc}, 62), dy = random_tensor({members * rows, out}, 63);
  Tensor x_gpu = gpu_copy(x), w_gpu = gpu_copy(w), b_gpu = gpu_copy(b), dy_gpu = gpu_copy(dy);
  Tensor y({members * rows, out}), y_gpu({members * rows, out}, Device::Cuda);
  Tensor workspace, workspace_gpu;
  for (bool shared : {false, true}) {  // shared: the first `rows` rows for every member
    SCOPED_TRACE(shared ? "shared input" : "own input");
    y_gpu.fill(NAN);
    cpu().conv2d_forward_batched(g, x.data(), shared, w.data(), b.data(), members, rows, y.data(),
                                 workspace);
    gpu.conv2d_forward_batched(g, x_gpu.data(), shared, w_gpu.data(), b_gpu.data(), members, rows,
                               y_gpu.data(), workspace_gpu);
    expect_close(y, y_gpu, kProducts, "y");
  }
  if (!backward) return;
  ConvGradients grads(w, b, x);
  auto& [dw, db, dx, dw_gpu, db_gpu, dx_gpu] = grads;
  cpu().conv2d_backward_batched(g, x.data(), dy.data(), w.data(), members, rows, dw.data(),
                                db.data(), dx.data(), workspace);
  gpu.conv2d_backward_batched(g, x_gpu.data(), dy_gpu.data(), w_gpu.data(), members, rows,
                              dw_gpu.data(), db_gpu.data(), dx_gpu.data(), workspace_gpu);
  expect_close(dw, dw_gpu, kProducts, "dweight");
  expect_close(db, db_gpu, kProducts, "dbias");
  expect_close(dx, dx_gpu, kProducts, "dx");
  dw_gpu.fill(NAN);
  db_gpu.fill(NAN);
  gpu.conv2d_backward_batched(g, x_gpu.data(), dy_gpu.data(), w_gpu.data(), members, rows,
                              dw_gpu.data(), db_gpu.data(), nullptr, workspace_gpu);
  expect_close(dw, dw_gpu, kProducts, "dweight without dx");
  expect_close(db, db_gpu, kProducts, "dbias without dx");
}

TEST_F(CudaParity, PopulationConv2dForwardAndBackward) {
  const ConvCase cases[] = {
      {{.input = {3, 8, 8}, .out_channels = 4, .kernel = 3, .stride = 1, .padding = 1}, 3},
      {{.input = {2, 9, 7}, .out_channels = 3, .kernel = 3, .stride = 2, .padding = 0}, 1},
      {{.input = {1, 28, 28}, .out_channels = 6, .kernel = 5, .stride = 1, .padding = 2}, 4},
  };
  for (const ConvCase& cc : cases) expect_population_conv_close(cc.g, 3, cc.batch, true);
}

// Members beyond one chunk of the CUDA workspace (2^26 floats): at 200 rows a member the forward
// takes 2 chunks and the backward with dx 3; at 256 rows one member's backward with dx does not
// fit, and goes member by member; 16 members on a shared input take 2 chunks.
TEST_F(CudaParity, PopulationConv2dInChunksOfMembers) {
  const Conv2dGeometry g{.input = {16, 32, 32}, .out_channels = 16, .kernel = 3, .padding = 1};
  expect_population_conv_close(g, 3, 200, true);
  expect_population_conv_close(g, 3, 256, true);
  expect_population_conv_close(g, 16, 200, false);
}

TEST_F(CudaParity, PoolingForwardAndBackward) {
  const Pool2dGeometry cases[] = {
      {.input = {3, 8, 8}, .kernel = 2, .stride = 2},
      {.input = {2, 7, 9}, .kernel = 3, .stride = 2},  // overlapping windows, a ragged edge
      {.input = {1, 6, 5}, .kernel = 3, .stride = 1},
  };
  const int64_t batch = 4;
  for (const Pool2dGeometry& g : cases) {
    SCOPED_TRACE(g.input.to_string() + " k" + std::to_string(g.kernel) + " s" +
                 std::to_string(g.stride));
    Tensor x = tied_tensor({batch, g.input.numel()}, 23, 4);  // ties: the first maximum wins
    Tensor dy = random_tensor({batch, g.output().numel()}, 24);
    Tensor x_gpu = gpu_copy(x), dy_gpu = gpu_copy(dy);
    Tensor y(dy.shape()), argmax(dy.shape()), dx(x.shape());
    Tensor y_gpu(dy.shape(), Device::Cuda), argmax_gpu(dy.shape(), Device::Cuda);
    Tensor dx_gpu(x.shape(), Device::Cuda);
    cpu().max_pool2d_forward(g, x, y, argmax);
    gpu().max_pool2d_forward(g, x_gpu, y_gpu, argmax_gpu);
    expect_close(y, y_gpu, kExact, "max pool y");
    expect_close(argmax, argmax_gpu, kExact, "max pool argmax");
    cpu().max_pool2d_backward(g, dy, argmax, dx);
    gpu().max_pool2d_backward(g, dy_gpu, argmax_gpu, dx_gpu);
    expect_close(dx, dx_gpu, kExact, "max pool dx");

    Tensor xr = random_tensor(x.shape(), 25), xr_gpu = gpu_copy(xr);
    cpu().avg_pool2d_forward(g, xr, y);
    gpu().avg_pool2d_forward(g, xr_gpu, y_gpu);
    expect_close(y, y_gpu, kExact, "avg pool y");
    cpu().avg_pool2d_backward(g, dy, dx);
    gpu().avg_pool2d_backward(g, dy_gpu, dx_gpu);
    expect_close(dx, dx_gpu, kExact, "avg pool dx");
  }
}

// Random batch norm operands, on the host and copied to the GPU: x and dy [members * rows, C*S];
// gamma, beta and the running statistics [C] for one model, [members, C] for a population.
struct BatchNormOperands {
  BatchNormOperands(const BatchNormGeometry& g, int64_t rows, int64_t members, uint64_t seed)
      : xs{members * rows, g.sample()},
        cs(members == 1 ? Shape{g.channels} : Shape{members, g.channels}),
        x(random_tensor(xs, seed, -2.0f, 3.0f)),
        dy(random_tensor(xs, seed + 1)),
        gamma(random_tensor(cs, seed + 2, 0.5f, 1.5f)),
        beta(random_tensor(cs, seed + 3)),
        rmean(random_tensor(cs, seed + 4)),
        rvar(random_tensor(cs, seed + 5, 0.5f, 2.0f)),
        x_gpu(gpu_copy(x)),
        dy_gpu(gpu_copy(dy)),
        gamma_gpu(gpu_copy(gamma)),
        beta_gpu(gpu_copy(beta)),
        rmean_gpu(gpu_copy(rmean)),
        rvar_gpu(gpu_copy(rvar)) {}
  Shape xs, cs;
  Tensor x, dy, gamma, beta, rmean, rvar;
  Tensor x_gpu, dy_gpu, gamma_gpu, beta_gpu, rmean_gpu, rvar_gpu;
};

TEST_F(CudaParity, BatchNormTrainEvalAndBackward) {
  for (int64_t spatial : {int64_t{1}, int64_t{16}}) {
    const BatchNormGeometry g{.channels = 5, .spatial = spatial};
    const int64_t batch = 12;
    SCOPED_TRACE("spatial " + std::to_string(spatial));
    BatchNormOperands o(g, batch, 1, 26);
    auto& [xs, cs, x, dy, gamma, beta, rmean, rvar, x_gpu, dy_gpu, gamma_gpu, beta_gpu, rmean_gpu,
           rvar_gpu] = o;
    Tensor y(xs), mean(cs), istd(cs);
    Tensor y_gpu(xs, Device::Cuda), mean_gpu(cs, Device::Cuda), istd_gpu(cs, Device::Cuda);
    cpu().batch_norm_forward_train(g, x, gamma, beta, y, mean, istd, rmean, rvar);
    gpu().batch_norm_forward_train(g, x_gpu, gamma_gpu, beta_gpu, y_gpu, mean_gpu, istd_gpu,
                                   rmean_gpu, rvar_gpu);
    expect_close(y, y_gpu, kStatistics, "train y");
    expect_close(mean, mean_gpu, kStatistics, "mean");
    expect_close(istd, istd_gpu, kStatistics, "inv_std");
    expect_close(rmean, rmean_gpu, kStatistics, "running mean");
    expect_close(rvar, rvar_gpu, kStatistics, "running variance (unbiased)");

    cpu().batch_norm_forward_eval(g, x, gamma, beta, rmean, rvar, y);
    gpu().batch_norm_forward_eval(g, x_gpu, gamma_gpu, beta_gpu, gpu_copy(rmean), gpu_copy(rvar),
                                  y_gpu);
    expect_close(y, y_gpu, kStatistics, "eval y");

    // Backward from the CPU's statistics on both.
    Tensor mean_c = gpu_copy(mean), istd_c = gpu_copy(istd);
    Tensor dgamma(cs), dbeta(cs), dx(xs);
    Tensor dgamma_gpu(cs, Device::Cuda), dbeta_gpu(cs, Device::Cuda), dx_gpu(xs, Device::Cuda);
    cpu().batch_norm_backward(g, x, dy, gamma, mean, istd, dgamma, dbeta, &dx);
    gpu().batch_norm_backward(g, x_gpu, dy_gpu, gamma_gpu, mean_c, istd_c, dgamma_gpu, dbeta_gpu,
                              &dx_gpu);
    expect_close(dgamma, dgamma_gpu, kStatistics, "dgamma");
    expect_close(dbeta, dbeta_gpu, kStatistics, "dbeta");
    expect_close(dx, dx_gpu, kStatistics, "dx");
    gpu().batch_norm_backward(g, x_gpu, dy_gpu, gamma_gpu, mean_c, istd_c, dgamma_gpu, dbeta_gpu,
                              nullptr);
    expect_close(dgamma, dgamma_gpu, kStatistics, "dgamma without dx");
  }
}

// ---------------------------------------------------------------------------------------------
// Optimizers: three steps from the same state, so the state's update is compared too.

TEST_F(CudaParity, SgdPlainMomentumNesterovAndWeightDecay) {
  const int64_t n = 3000;
  struct Case {
    float momentum, weight_decay;
    bool nesterov;
  };
  for (const Case& c : {Case{0.0f, 0.0f, false}, Case{0.0f, 0.01f, false}, Case{0.9f, 0.0f, false},
                        Case{0.9f, 5e-4f, false}, Case{0.9f, 5e-4f, true}}) {
    SCOPED_TRACE("momentum " + std::to_string(c.momentum) + ", weight decay " +
                 std::to_string(c.weight_decay) + (c.nesterov ? ", nesterov" : ""));
    Tensor w = random_tensor({n}, 32), v = random_tensor({n}, 33);
    Tensor w_gpu = gpu_copy(w), v_gpu = gpu_copy(v);
    for (int step = 0; step < 3; ++step) {
      Tensor grad = random_tensor({n}, 34 + step), grad_gpu = gpu_copy(grad);
      cpu().sgd_update(w.data(), grad.data(), v.data(), n, 0.05f, c.momentum, c.weight_decay,
                       c.nesterov);
      gpu().sgd_update(w_gpu.data(), grad_gpu.data(), v_gpu.data(), n, 0.05f, c.momentum,
                       c.weight_decay, c.nesterov);
    }
    expect_close(w, w_gpu, kUlps, "w");
    expect_close(v, v_gpu, kUlps, "velocity");
  }
}

AdamStep adam_step(int t, float lr, float weight_decay) {
  const float beta1 = 0.9f, beta2 = 0.999f;
  return {.lr = lr,
          .beta1 = beta1,
          .beta2 = beta2,
          .eps = 1e-8f,
          .weight_decay = weight_decay,
          .one_minus_beta1 = static_cast<float>(1.0 - beta1),
          .one_minus_beta2 = static_cast<float>(1.0 - beta2),
          .bias_correction1 = static_cast<float>(1.0 - std::pow(beta1, t)),
          .bias_correction2 = static_cast<float>(1.0 - std::pow(beta2, t))};
}

TEST_F(CudaParity, Adam) {
  const int64_t n = 3000;
  for (float weight_decay : {0.0f, 0.01f}) {
    Tensor w = random_tensor({n}, 40), m({n}), v({n});
    Tensor w_gpu = gpu_copy(w), m_gpu({n}, Device::Cuda), v_gpu({n}, Device::Cuda);
    for (int t = 1; t <= 3; ++t) {
      Tensor grad = random_tensor({n}, 40 + t), grad_gpu = gpu_copy(grad);
      const AdamStep s = adam_step(t, 1e-3f, weight_decay);
      cpu().adam_update(w.data(), grad.data(), m.data(), v.data(), n, s);
      gpu().adam_update(w_gpu.data(), grad_gpu.data(), m_gpu.data(), v_gpu.data(), n, s);
    }
    const std::string what = "weight decay " + std::to_string(weight_decay);
    expect_close(w, w_gpu, kUlps, "w, " + what);
    expect_close(m, m_gpu, kUlps, "m, " + what);
    expect_close(v, v_gpu, kUlps, "v, " + what);
  }
}

// ---------------------------------------------------------------------------------------------
// Population ops: CUDA's single launches against the CPU's member-by-member defaults.

TEST_F(CudaParity, PopulationBiasColumnSumsLossAndAccuracy) {
  const int64_t members = 4, rows = 70, cols = 10;
  Tensor v = random_tensor({members, cols}, 50), v_gpu = gpu_copy(v);
  Tensor y({members, rows, cols}), y_gpu({members, rows, cols}, Device::Cuda);
  cpu().broadcast_rows_batched(v.data(), members, rows, cols, y.data());
  gpu().broadcast_rows_batched(v_gpu.data(), members, rows, cols, y_gpu.data());
  expect_close(y, y_gpu, kExact, "broadcast_rows_batched");

  Tensor x = random_tensor({members, rows, cols}, 51, -4.0f, 4.0f), x_gpu = gpu_copy(x);
  Tensor out = random_tensor({members, cols}, 52), out_gpu = gpu_copy(out);
  cpu().column_sums_batched(x.data(), members, rows, cols, 0.5f, out.data());
  gpu().column_sums_batched(x_gpu.data(), members, rows, cols, 0.5f, out_gpu.data());
  expect_close(out, out_gpu, kExact, "column_sums_batched");

  const std::vector<int32_t> labels = random_labels(members * rows, cols, 53);
  Tensor probs(x.shape()), probs_gpu(x.shape(), Device::Cuda);
  std::vector<double> losses(members), losses_gpu(members);
  cpu().softmax_cross_entropy_batched(x.data(), labels.data(), members, rows, cols, probs.data(),
                                      losses.data());
  gpu().softmax_cross_entropy_batched(x_gpu.data(), labels.data(), members, rows, cols,
                                      probs_gpu.data(), losses_gpu.data());
  expect_close(probs, probs_gpu, kUlps, "softmax_cross_entropy_batched probs");
  for (int64_t p = 0; p < members; ++p) {
    expect_close(losses[p], losses_gpu[p], kStatistics, "loss of member " + std::to_string(p));
  }

  Tensor scores = tied_tensor(x.shape(), 54, 3), scores_gpu = gpu_copy(scores);
  std::vector<int64_t> correct(members), correct_gpu(members);
  cpu().count_correct_batched(scores.data(), labels.data(), members, rows, cols, correct.data());
  gpu().count_correct_batched(scores_gpu.data(), labels.data(), members, rows, cols,
                              correct_gpu.data());
  EXPECT_EQ(correct, correct_gpu);
}

TEST_F(CudaParity, PopulationSgdAndAdamWithPerMemberHyperparameters) {
  const int64_t members = 3, n = 1000;
  const std::vector<float> lr{0.1f, 0.01f, 0.003f}, momentum{0.0f, 0.9f, 0.5f};
  const std::vector<float> decay{0.0f, 1e-4f, 1e-2f};
  for (bool nesterov : {false, true}) {
    Tensor w = random_tensor({members, n}, 60), vel = random_tensor({members, n}, 61);
    Tensor grad = random_tensor({members, n}, 62);
    Tensor w_gpu = gpu_copy(w), vel_gpu = gpu_copy(vel), grad_gpu = gpu_copy(grad);
    for (int step = 0; step < 2; ++step) {
      cpu().sgd_update_batched(w.data(), grad.data(), vel.data(), members, n, lr.data(),
                               momentum.data(), decay.data(), nesterov);
      gpu().sgd_update_batched(w_gpu.data(), grad_gpu.data(), vel_gpu.data(), members, n, lr.data(),
                               momentum.data(), decay.data(), nesterov);
    }
    expect_close(w, w_gpu, kUlps,
                 std::string("sgd_update_batched w") + (nesterov ? " nesterov" : ""));
    expect_close(vel, vel_gpu, kUlps, "sgd_update_batched velocity");
  }
  Tensor w = random_tensor({members, n}, 63), m({members, n}), v({members, n});
  Tensor w_gpu = gpu_copy(w), m_gpu = gpu_copy(m), v_gpu = gpu_copy(v);
  for (int t = 1; t <= 2; ++t) {
    Tensor grad = random_tensor({members, n}, 63 + t), grad_gpu = gpu_copy(grad);
    const AdamStep s = adam_step(t, 123.0f, 456.0f);  // lr and weight decay replaced per member
    cpu().adam_update_batched(w.data(), grad.data(), m.data(), v.data(), members, n, s, lr.data(),
                              decay.data());
    gpu().adam_update_batched(w_gpu.data(), grad_gpu.data(), m_gpu.data(), v_gpu.data(), members, n,
                              s, lr.data(), decay.data());
  }
  expect_close(w, w_gpu, kUlps, "adam_update_batched w");
  expect_close(m, m_gpu, kUlps, "adam_update_batched m");
  expect_close(v, v_gpu, kUlps, "adam_update_batched v");
}

// ---------------------------------------------------------------------------------------------
// Tensors on the device, and threads

TEST_F(CudaParity, TensorsMoveBetweenHostAndDevice) {
  Tensor host = random_tensor({7, 9}, 70);
  Tensor on_device = host.to(Device::Cuda);
  EXPECT_EQ(on_device.device(), Device::Cuda);
  EXPECT_EQ(on_device.shape(), host.shape());
  EXPECT_THROW((void)on_device.values(), Error);
  EXPECT_EQ(on_device.to_host(), std::vector<float>(host.values().begin(), host.values().end()));

  Tensor copy({1}, Device::Cuda);
  copy.copy_from(on_device);  // device to device
  EXPECT_EQ(copy.to_host(), on_device.to_host());
  Tensor constructed(on_device);  // a deep copy on the device
  on_device.fill(2.5f);
  EXPECT_EQ(constructed.to_host(), copy.to_host());
  for (float v : on_device.to_host()) ASSERT_EQ(v, 2.5f);
  EXPECT_EQ(on_device.to(Device::Cpu).to_host(), std::vector<float>(63, 2.5f));

  Tensor zeros({1000}, Device::Cuda);
  for (float v : zeros.to_host()) ASSERT_EQ(v, 0.0f);
  Tensor moved;
  moved.resize({4}, Device::Cuda);
  moved.copy_from_host(std::vector<float>{1, 2, 3, 4});
  EXPECT_EQ(moved.to_host(), (std::vector<float>{1, 2, 3, 4}));
}

// An allocation the GPU cannot hold is an error that says so, and the device works on after it:
// cudaMalloc's failure stayed the thread's last error, which the next kernel's launch check then
// reported as its own (a trial after one that ran out of memory failed at its first op, and
// DeviceImages' fallback to the host could not work).
TEST_F(CudaParity, AnAllocationTooLargeIsAnErrorAndTheDeviceWorksOn) {
  try {
    Tensor huge({int64_t{1} << 42}, Device::Cuda);  // 16 TiB
    ADD_FAILURE() << "allocated 16 TiB on the GPU";
  } catch (const Error& e) {
    EXPECT_THAT(std::string(e.what()), ::testing::HasSubstr("out of GPU memory: 16384.00 GiB"));
  }
  const int64_t n = 1000;
  Tensor x = random_tensor({n}, 12, -3.0f, 3.0f);
  Tensor x_gpu = gpu_copy(x), y({n}), y_gpu({n}, Device::Cuda);
  cpu().relu_forward(x.data(), y.data(), n);
  gpu().relu_forward(x_gpu.data(), y_gpu.data(), n);
  expect_close(y, y_gpu, kExact, "relu after a failed allocation");
}

// Trials call the backend from several threads at once: each thread has its stream, cuBLAS handle
// and scratch, and gets its own results.
TEST_F(CudaParity, ThreadsUseTheBackendAtOnce) {
  const int64_t m = 64, n = 48, k = 80, rows = 200, cols = 10;
  auto work = [&](uint64_t seed, double* loss, Tensor* product) {
    Tensor a = random_tensor({m, k}, seed), b = random_tensor({k, n}, seed + 1);
    Tensor logits = random_tensor({rows, cols}, seed + 2, -3.0f, 3.0f);
    const std::vector<int32_t> labels = random_labels(rows, cols, seed + 3);
    Tensor a_gpu = gpu_copy(a), b_gpu = gpu_copy(b), logits_gpu = gpu_copy(logits);
    Tensor c_gpu({m, n}, Device::Cuda), probs_gpu({rows, cols}, Device::Cuda);
    for (int repeat = 0; repeat < 20; ++repeat) {
      gpu().gemm(T::No, T::No, m, n, k, 1.0f, a_gpu.data(), k, b_gpu.data(), n, 0.0f, c_gpu.data(),
                 n);
      *loss = gpu().softmax_cross_entropy(logits_gpu.data(), labels.data(), rows, cols,
                                          probs_gpu.data());
    }
    *product = c_gpu.to(Device::Cpu);
  };
  double losses[3];
  Tensor products[3];
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) threads.emplace_back(work, 100 * (t + 1), &losses[t], &products[t]);
  for (std::thread& t : threads) t.join();
  for (int t = 0; t < 3; ++t) {
    double alone = 0.0;
    Tensor product;
    work(100 * (t + 1), &alone, &product);
    EXPECT_EQ(losses[t], alone) << "thread " << t;
    EXPECT_EQ(product.to_host(), products[t].to_host()) << "thread " << t;
  }
}

TEST_F(CudaParity, OneThreadOnTheDevice) {
  gpu().set_threads(4);
  EXPECT_EQ(gpu().threads(), 1);
  EXPECT_EQ(gpu().device(), Device::Cuda);
  EXPECT_THROW(gpu().set_threads(0), InvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// Runs everywhere: what a build without CUDA, or a machine without a GPU, says.

TEST(CudaDevice, DeviceProblemSaysWhyInOneLine) {
  const std::string why = device_problem(Device::Cuda);
  EXPECT_EQ(why.find('\n'), std::string::npos) << why;
#ifndef KRILL_HAVE_CUDA
  EXPECT_NE(why.find("not built"), std::string::npos) << why;
  EXPECT_THROW(backend(Device::Cuda), Error);
#else
  if (why.empty()) {  // a usable GPU
    EXPECT_EQ(backend(Device::Cuda).device(), Device::Cuda);
    EXPECT_TRUE(has_allocator(Device::Cuda));
    return;
  }
  // No device (here and in CI), or a GPU that refuses a context (a driver too old for this CUDA,
  // a prohibited compute mode), or no cuBLAS to load: each says which, and the way out.
  EXPECT_THAT(why, ::testing::ContainsRegex("^(no CUDA device: cudaGetDeviceCount|no usable CUDA "
                                            "device: creating its context|cuBLAS \\()"))
      << why;
  EXPECT_NE(why.find("--device cpu"), std::string::npos) << why;
  EXPECT_THROW(backend(Device::Cuda), Error);
#endif
  // No backend started: no allocator, and a tensor there is refused with a message saying so.
  EXPECT_FALSE(has_allocator(Device::Cuda));
  try {
    Tensor t({2}, Device::Cuda);
    ADD_FAILURE() << "a tensor on a device without a backend";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no allocator for device 'cuda'"), std::string::npos)
        << e.what();
  }
}

#ifdef KRILL_HAVE_CUDA
// cuBLAS is opened when the backend starts, not linked: it loads (from the toolkit krill was built
// with, here or on the library path) without a GPU, and krill itself does not link it.
TEST(CudaDevice, CublasIsLoadedOnDemand) {
  EXPECT_EQ(cublas_problem(), "");
}
#endif

// Batch norm of a population: 3 members of 6 rows, each with its own gamma, beta and statistics.
TEST_F(CudaParity, PopulationBatchNormTrainEvalAndBackward) {
  const int64_t members = 3, rows = 6;
  for (int64_t spatial : {int64_t{1}, int64_t{16}}) {
    const BatchNormGeometry g{.channels = 5, .spatial = spatial};
    SCOPED_TRACE("spatial " + std::to_string(spatial));
    BatchNormOperands o(g, rows, members, 70);
    auto& [xs, cs, x, dy, gamma, beta, rmean, rvar, x_gpu, dy_gpu, gamma_gpu, beta_gpu, rmean_gpu,
           rvar_gpu] = o;
    Tensor y(xs), mean(cs), istd(cs);
    Tensor y_gpu(xs, Device::Cuda), mean_gpu(cs, Device::Cuda), istd_gpu(cs, Device::Cuda);
    cpu().batch_norm_forward_train_batched(g, x.data(), gamma.data(), beta.data(), members, rows,
                                           y.data(), mean.data(), istd.data(), rmean.data(),
                                           rvar.data());
    gpu().batch_norm_forward_train_batched(g, x_gpu.data(), gamma_gpu.data(), beta_gpu.data(),
                                           members, rows, y_gpu.data(), mean_gpu.data(),
                                           istd_gpu.data(), rmean_gpu.data(), rvar_gpu.data());
    expect_close(y, y_gpu, kStatistics, "train y");
    expect_close(mean, mean_gpu, kStatistics, "mean");
    expect_close(istd, istd_gpu, kStatistics, "inv_std");
    expect_close(rmean, rmean_gpu, kStatistics, "running mean");
    expect_close(rvar, rvar_gpu, kStatistics, "running variance (unbiased)");

    const Tensor rmean_c = gpu_copy(rmean), rvar_c = gpu_copy(rvar);
    for (bool shared : {false, true}) {
      SCOPED_TRACE(shared ? "shared input" : "own input");
      y_gpu.fill(NAN);
      cpu().batch_norm_forward_eval_batched(g, x.data(), shared, gamma.data(), beta.data(),
                                            rmean.data(), rvar.data(), members, rows, y.data());
      gpu().batch_norm_forward_eval_batched(g, x_gpu.data(), shared, gamma_gpu.data(),
                                            beta_gpu.data(), rmean_c.data(), rvar_c.data(), members,
                                            rows, y_gpu.data());
      expect_close(y, y_gpu, kStatistics, "eval y");
    }

    // Backward from the CPU's statistics on both.
    const Tensor mean_c = gpu_copy(mean), istd_c = gpu_copy(istd);
    Tensor dgamma(cs), dbeta(cs), dx(xs);
    Tensor dgamma_gpu(cs, Device::Cuda), dbeta_gpu(cs, Device::Cuda), dx_gpu(xs, Device::Cuda);
    dx_gpu.fill(NAN);
    cpu().batch_norm_backward_batched(g, x.data(), dy.data(), gamma.data(), mean.data(),
                                      istd.data(), members, rows, dgamma.data(), dbeta.data(),
                                      dx.data());
    gpu().batch_norm_backward_batched(g, x_gpu.data(), dy_gpu.data(), gamma_gpu.data(),
                                      mean_c.data(), istd_c.data(), members, rows,
                                      dgamma_gpu.data(), dbeta_gpu.data(), dx_gpu.data());
    expect_close(dgamma, dgamma_gpu, kStatistics, "dgamma");
    expect_close(dbeta, dbeta_gpu, kStatistics, "dbeta");
    expect_close(dx, dx_gpu, kStatistics, "dx");
    dgamma_gpu.fill(NAN);
    gpu().batch_norm_backward_batched(g, x_gpu.data(), dy_gpu.data(), gamma_gpu.data(),
                                      mean_c.data(), istd_c.data(), members, rows,
                                      dgamma_gpu.data(), dbeta_gpu.data(), nullptr);
    expect_close(dgamma, dgamma_gpu, kStatistics, "dgamma without dx");
  }
}

}  // namespace
}  // namespace krill::backend
