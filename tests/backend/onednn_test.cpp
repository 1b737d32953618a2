// Parity of the CPU backend's oneDNN kernels with the paths they replace: convolution against
// im2col + GEMM (the reference, itself tested against direct loops in image_ops_test.cpp) on
// LeNet's two convolutions and a strided, padded one; GEMM against OpenBLAS on the MLP's shapes
// with every transpose. One thread and a team of two (the GEMM: one thread, where the backend
// uses it). Tolerance: |oneDNN - reference| <= 1e-4 x
// max(1, the array's largest magnitude): both sum the same products in float, in different orders.
// Each is also run twice: the same thread count gives the same bits.
// Skipped in a build without oneDNN, where there is nothing to compare: no libdnnl-dev, or
// -DKRILL_ONEDNN=OFF, which the sanitizer and fuzz builds of scripts/test.sh set (oneDNN's
// JIT-generated code is not instrumented, so they test krill's own im2col + OpenBLAS path, which
// image_ops_test.cpp and the layer tests cover). In a build with oneDNN each case must run on it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include <cblas.h>

#include "backend/backend.hpp"
#include "backend/cpu/im2col.hpp"
#include "backend/cpu/onednn.hpp"
#include "core/rng.hpp"

namespace krill::backend {
namespace {

#ifdef KRILL_HAVE_ONEDNN
constexpr bool kHaveOnednn = true;
#else
constexpr bool kHaveOnednn = false;
#endif
constexpr const char* kNoOnednn = "krill built without oneDNN: nothing to compare";

Backend& cpu() {
  return backend(Device::Cpu);
}

Tensor random_tensor(Shape shape, uint64_t seed) {
  Tensor t(shape);
  Rng rng(seed);
  for (float& v : t.values()) v = rng.uniform(-1.0f, 1.0f);
  return t;
}

void expect_close(const Tensor& actual, const Tensor& expected, const std::string& what) {
  ASSERT_EQ(actual.shape(), expected.shape()) << what;
  float scale = 1.0f;
  for (float v : expected.values()) scale = std::max(scale, std::abs(v));
  for (int64_t i = 0; i < expected.numel(); ++i) {
    ASSERT_NEAR(actual[i], expected[i], 1e-4f * scale) << what << "[" << i << "]";
  }
}

void expect_identical(const Tensor& a, const Tensor& b, const std::string& what) {
  ASSERT_EQ(a.numel(), b.numel()) << what;
  for (int64_t i = 0; i < a.numel(); ++i) ASSERT_EQ(a[i], b[i]) << what << "[" << i << "]";
}

struct Case {
  Conv2dGeometry g;
  int64_t batch;
};

const Case kCases[] = {
    {{.input = {1, 28, 28}, .out_channels = 32, .kernel = 5}, 64},   // LeNet's conv1
    {{.input = {32, 12, 12}, .out_channels = 64, .kernel = 5}, 64},  // LeNet's conv2
    {{.input = {32, 12, 12}, .out_channels = 64, .kernel = 5}, 32},  // its last, smaller batch
    {{.input = {16, 9, 7}, .out_channels = 8, .kernel = 3, .stride = 2, .padding = 1}, 5},
};

struct Result {
  Tensor y, dw, db, dx;
};

Result run_onednn(const Case& c, const Tensor& x, const Tensor& w, const Tensor& b,
                  const Tensor& dy, bool with_dx) {
  const Conv2dGeometry& g = c.g;
  Result r{Tensor({c.batch, g.output().numel()}), Tensor(w.shape()), Tensor(b.shape()),
           Tensor(x.shape())};
  onednn_conv2d_forward(g, c.batch, x.data(), w.data(), b.data(), r.y.data());
  onednn_conv2d_backward(g, c.batch, x.data(), dy.data(), w.data(), r.dw.data(), r.db.data(),
                         with_dx ? r.dx.data() : nullptr);
  return r;
}

void check(const Case& c, int threads) {
  const Conv2dGeometry& g = c.g;
  SCOPED_TRACE(g.input.to_string() + " -> " + std::to_string(g.out_channels) + ", batch " +
               std::to_string(c.batch) + ", threads " + std::to_string(threads));
  cpu().set_threads(threads);
  ASSERT_TRUE(onednn_conv2d_supported(g, c.batch)) << "oneDNN refused the geometry";
  const bool with_dx = onednn_conv2d_data_supported(g, c.batch);
  EXPECT_EQ(with_dx, g.input.channels >= 16);
  Tensor x = random_tensor({c.batch, g.input.numel()}, 1);
  Tensor w = random_tensor({g.out_channels, g.patch_size()}, 2);
  Tensor b = random_tensor({g.out_channels}, 3);
  Tensor dy = random_tensor({c.batch, g.output().numel()}, 4);

  Result ref{Tensor({c.batch, g.output().numel()}), Tensor(w.shape()), Tensor(b.shape()),
             Tensor(x.shape())};
  Tensor workspace;
  im2col_conv2d_forward(cpu(), g, x, w, b, ref.y, workspace);
  im2col_conv2d_backward(cpu(), g, x, dy, w, ref.dw, ref.db, with_dx ? &ref.dx : nullptr,
                         workspace);

  const Result got = run_onednn(c, x, w, b, dy, with_dx);
  expect_close(got.y, ref.y, "y");
  expect_close(got.dw, ref.dw, "dw");
  expect_close(got.db, ref.db, "db");
  if (with_dx) expect_close(got.dx, ref.dx, "dx");

  // The same thread count gives the same bits: runs repeat exactly.
  const Result again = run_onednn(c, x, w, b, dy, with_dx);
  expect_identical(again.y, got.y, "y again");
  expect_identical(again.dw, got.dw, "dw again");
  expect_identical(again.db, got.db, "db again");
  if (with_dx) {
    expect_identical(again.dx, got.dx, "dx again");
  }
  cpu().set_threads(1);
}

TEST(OnednnConv2d, MatchesIm2colOnOneThread) {
  if (!kHaveOnednn) GTEST_SKIP() << kNoOnednn;
  for (const Case& c : kCases) check(c, 1);
}

TEST(OnednnConv2d, MatchesIm2colOnTwoThreads) {
  if (!kHaveOnednn) GTEST_SKIP() << kNoOnednn;
  for (const Case& c : kCases) check(c, 2);
}

// The backend takes oneDNN where it can and im2col elsewhere; either way a layer sees the same
// numbers within the tolerance (the backend's entry points against the reference path).
TEST(OnednnConv2d, TheBackendsChoiceMatchesIm2col) {
  const Case c = kCases[1];
  const Conv2dGeometry& g = c.g;
  Tensor x = random_tensor({c.batch, g.input.numel()}, 5);
  Tensor w = random_tensor({g.out_channels, g.patch_size()}, 6);
  Tensor b = random_tensor({g.out_channels}, 7);
  Tensor dy = random_tensor({c.batch, g.output().numel()}, 8);
  Tensor y({c.batch, g.output().numel()}), dw(w.shape()), db(b.shape()), dx(x.shape());
  Tensor ry(y.shape()), rdw(w.shape()), rdb(b.shape()), rdx(x.shape()), workspace, ref_workspace;
  cpu().conv2d_forward(g, x, w, b, y, workspace);
  cpu().conv2d_backward(g, x, dy, w, dw, db, &dx, workspace);
  im2col_conv2d_forward(cpu(), g, x, w, b, ry, ref_workspace);
  im2col_conv2d_backward(cpu(), g, x, dy, w, rdw, rdb, &rdx, ref_workspace);
  expect_close(y, ry, "y");
  expect_close(dw, rdw, "dw");
  expect_close(db, rdb, "db");
  expect_close(dx, rdx, "dx");
}

struct GemmCase {
  bool ta, tb;
  int64_t m, n, k;
};

// The MLP's forward (x W^T), weight-gradient (dy^T x) and input-gradient (dy W) products at batch
// 32, and an odd shape with every transpose.
const GemmCase kGemmCases[] = {
    {false, true, 32, 512, 784}, {true, false, 512, 784, 32}, {false, false, 32, 256, 512},
    {false, false, 37, 19, 23},  {true, false, 37, 19, 23},   {false, true, 37, 19, 23},
    {true, true, 37, 19, 23},
};

void check_gemm(const GemmCase& c, int threads) {
  SCOPED_TRACE(std::to_string(c.m) + "x" + std::to_string(c.n) + "x" + std::to_string(c.k) +
               (c.ta ? " A^T" : "") + (c.tb ? " B^T" : "") + ", threads " +
               std::to_string(threads));
  cpu().set_threads(threads);
  const int64_t lda = c.ta ? c.m : c.k, ldb = c.tb ? c.k : c.n;
  Tensor a = random_tensor({c.m * c.k}, 1), b = random_tensor({c.k * c.n}, 2);
  Tensor c0 = random_tensor({c.m * c.n}, 3);
  Tensor ref = c0, got = c0, again = c0;
  cblas_sgemm(CblasRowMajor, c.ta ? CblasTrans : CblasNoTrans, c.tb ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(c.m), static_cast<blasint>(c.n), static_cast<blasint>(c.k), 0.5f,
              a.data(), static_cast<blasint>(lda), b.data(), static_cast<blasint>(ldb), 0.25f,
              ref.data(), static_cast<blasint>(c.n));
  ASSERT_TRUE(onednn_gemm(c.ta, c.tb, c.m, c.n, c.k, 0.5f, a.data(), lda, b.data(), ldb, 0.25f,
                          got.data(), c.n));
  expect_close(got, ref, "C");
  ASSERT_TRUE(onednn_gemm(c.ta, c.tb, c.m, c.n, c.k, 0.5f, a.data(), lda, b.data(), ldb, 0.25f,
                          again.data(), c.n));
  expect_identical(again, got, "C again");
  cpu().set_threads(1);
}

TEST(OnednnGemm, MatchesOpenblasOnOneThread) {
  if (!kHaveOnednn) GTEST_SKIP() << kNoOnednn;
  for (const GemmCase& c : kGemmCases) check_gemm(c, 1);
}

// On a team of threads the backend keeps OpenBLAS (measured faster over an epoch); inside a team,
// where each call runs on one thread, oneDNN again.
TEST(OnednnGemm, DeclinesOnATeamButNotInsideOne) {
  Tensor a = random_tensor({32 * 512}, 1), b = random_tensor({512 * 256}, 2), c({32 * 256});
  cpu().set_threads(2);
  EXPECT_FALSE(onednn_gemm(false, true, 32, 256, 512, 1.0f, a.data(), 512, b.data(), 512, 0.0f,
                           c.data(), 256));
  bool inside = false;
#pragma omp parallel num_threads(2)
  {
#pragma omp master
    inside = onednn_gemm(false, true, 32, 256, 512, 1.0f, a.data(), 512, b.data(), 512, 0.0f,
                         c.data(), 256);
  }
  cpu().set_threads(1);
  if (!kHaveOnednn) GTEST_SKIP() << kNoOnednn;  // declining everywhere is all a stub does
  EXPECT_TRUE(inside);
}

// Below 16 on a side the backend keeps OpenBLAS (measured faster there).
TEST(OnednnGemm, DeclinesSmallSides) {
  Tensor a = random_tensor({32 * 256}, 1), b = random_tensor({256 * 10}, 2), c({32 * 10});
  EXPECT_FALSE(onednn_gemm(false, true, 32, 10, 256, 1.0f, a.data(), 256, b.data(), 256, 0.0f,
                           c.data(), 10));
}

}  // namespace
}  // namespace krill::backend
