#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "core/error.hpp"
#include "core/rng.hpp"

namespace krill::backend {
namespace {

using T = Transpose;

Backend& cpu() {
  return backend(Device::Cpu);
}

std::vector<float> random_vector(size_t n, uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = rng.uniform(lo, hi);
  return v;
}

const char* name(T t) {
  return t == T::Yes ? "T" : "N";
}

class CpuBackendTest : public ::testing::Test {
 protected:
  void SetUp() override { cpu().set_threads(1); }
  void TearDown() override { cpu().set_threads(1); }
};

// ---------------------------------------------------------------------------------------------
// GEMM

// A row-major matrix stored with leading dimension ld >= cols; the padding holds `pad`.
struct Matrix {
  int64_t rows, cols, ld;
  std::vector<float> data;

  Matrix(int64_t r, int64_t c, int64_t extra, uint64_t seed, float pad)
      : rows(r), cols(c), ld(c + extra), data(static_cast<size_t>(r * (c + extra)), pad) {
    Rng rng(seed);
    for (int64_t i = 0; i < r; ++i) {
      for (int64_t j = 0; j < c; ++j) data[static_cast<size_t>(i * ld + j)] = rng.uniform(-2, 2);
    }
  }
  float at(int64_t i, int64_t j) const { return data[static_cast<size_t>(i * ld + j)]; }
};

// op(X)[i][j] for a stored matrix.
double op_at(const Matrix& x, T t, int64_t i, int64_t j) {
  return t == T::No ? x.at(i, j) : x.at(j, i);
}

// Checks c (after gemm) against a double-precision triple loop over a, b and c0 (before gemm).
void expect_gemm_matches_reference(T ta, T tb, int64_t m, int64_t n, int64_t k, float alpha,
                                   const Matrix& a, const Matrix& b, float beta, const Matrix& c0,
                                   const std::vector<float>& c, const std::string& label) {
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0.0;
      double magnitude = 0.0;
      for (int64_t p = 0; p < k; ++p) {
        const double term = op_at(a, ta, i, p) * op_at(b, tb, p, j);
        sum += term;
        magnitude += std::abs(term);
      }
      const double c_in = c0.at(i, j);
      const double expected = alpha * sum + (beta == 0.0f ? 0.0 : beta * c_in);
      magnitude = std::abs(alpha) * magnitude + std::abs(beta) * std::abs(c_in);
      const double got = c[static_cast<size_t>(i * c0.ld + j)];
      ASSERT_LE(std::abs(got - expected), 1e-5 * std::max(magnitude, 1e-30))
          << label << " at (" << i << ", " << j << "): got " << got << ", expected " << expected;
    }
    // The padding of C is never written.
    for (int64_t j = n; j < c0.ld; ++j) {
      ASSERT_EQ(c[static_cast<size_t>(i * c0.ld + j)], c0.data[static_cast<size_t>(i * c0.ld + j)])
          << label << ": padding of C written at (" << i << ", " << j << ")";
    }
  }
}

struct GemmCase {
  int64_t m, n, k, extra;
  float alpha, beta;
};

TEST_F(CpuBackendTest, GemmMatchesNaiveReferenceForAllTransposes) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<GemmCase> cases = {
      {7, 5, 3, 0, 1.0f, 0.0f},      {7, 5, 3, 2, 0.75f, -0.5f}, {5, 7, 3, 3, -1.25f, 2.0f},
      {1, 1, 1, 1, 2.0f, 1.0f},      {3, 8, 1, 4, 1.0f, 1.0f},   {33, 17, 65, 5, 0.5f, 0.25f},
      {64, 48, 80, 0, 1.0f, 0.0f},   {1, 9, 6, 2, 1.0f, -1.0f},  {9, 1, 6, 2, 3.0f, 0.0f},
      {100, 70, 130, 9, 0.1f, 0.9f},
  };
  uint64_t seed = 1;
  for (T ta : {T::No, T::Yes}) {
    for (T tb : {T::No, T::Yes}) {
      for (const GemmCase& g : cases) {
        const std::string label = std::string(name(ta)) + name(tb) + " m=" + std::to_string(g.m) +
                                  " n=" + std::to_string(g.n) + " k=" + std::to_string(g.k) +
                                  " extra=" + std::to_string(g.extra);
        // Stored shapes: op(A) is m x k, op(B) is k x n. NaN padding would poison any result that
        // read it.
        const Matrix a = ta == T::No ? Matrix(g.m, g.k, g.extra, seed++, nan)
                                     : Matrix(g.k, g.m, g.extra, seed++, nan);
        const Matrix b = tb == T::No ? Matrix(g.k, g.n, g.extra, seed++, nan)
                                     : Matrix(g.n, g.k, g.extra, seed++, nan);
        const Matrix c0(g.m, g.n, g.extra, seed++, 1234.5f);
        std::vector<float> c = c0.data;
        cpu().gemm(ta, tb, g.m, g.n, g.k, g.alpha, a.data.data(), a.ld, b.data.data(), b.ld, g.beta,
                   c.data(), c0.ld);
        expect_gemm_matches_reference(ta, tb, g.m, g.n, g.k, g.alpha, a, b, g.beta, c0, c, label);
      }
    }
  }
}

TEST_F(CpuBackendTest, GemmHandComputed) {
  const std::vector<float> a = {1, 2, 3, 4};  // [[1, 2], [3, 4]]
  const std::vector<float> b = {5, 6, 7, 8};  // [[5, 6], [7, 8]]
  std::vector<float> c(4, 0.0f);
  cpu().gemm(T::No, T::No, 2, 2, 2, 1.0f, a.data(), 2, b.data(), 2, 0.0f, c.data(), 2);
  EXPECT_EQ(c, (std::vector<float>{19, 22, 43, 50}));
  cpu().gemm(T::Yes, T::No, 2, 2, 2, 1.0f, a.data(), 2, b.data(), 2, 0.0f, c.data(), 2);
  EXPECT_EQ(c, (std::vector<float>{26, 30, 38, 44}));  // A^T B
  cpu().gemm(T::No, T::Yes, 2, 2, 2, 1.0f, a.data(), 2, b.data(), 2, 0.0f, c.data(), 2);
  EXPECT_EQ(c, (std::vector<float>{17, 23, 39, 53}));  // A B^T
  std::vector<float> acc = {1, 1, 1, 1};
  cpu().gemm(T::Yes, T::Yes, 2, 2, 2, 2.0f, a.data(), 2, b.data(), 2, 1.0f, acc.data(), 2);
  EXPECT_EQ(acc, (std::vector<float>{47, 63, 69, 93}));  // 2 A^T B^T + 1
}

TEST_F(CpuBackendTest, GemmWithBetaZeroIgnoresWhatCHeld) {
  // Layers resize their outputs (contents unspecified) and run GEMM with beta = 0.
  const std::vector<float> a = random_vector(4 * 3, 10);
  const std::vector<float> b = random_vector(3 * 5, 11);
  std::vector<float> c(4 * 5, std::numeric_limits<float>::quiet_NaN());
  cpu().gemm(T::No, T::No, 4, 5, 3, 1.0f, a.data(), 3, b.data(), 5, 0.0f, c.data(), 5);
  for (float x : c) EXPECT_TRUE(std::isfinite(x));
}

TEST_F(CpuBackendTest, GemmStridedBatchedEqualsSeparateGemms) {
  const int64_t m = 6, n = 4, k = 5, count = 3;
  for (T ta : {T::No, T::Yes}) {
    for (T tb : {T::No, T::Yes}) {
      const int64_t lda = (ta == T::No ? k : m) + 1;
      const int64_t ldb = (tb == T::No ? n : k) + 2;
      const int64_t ldc = n + 3;
      const int64_t stride_a = (ta == T::No ? m : k) * lda + 7;
      const int64_t stride_b = (tb == T::No ? k : n) * ldb + 5;
      const int64_t stride_c = m * ldc + 4;
      const std::vector<float> a = random_vector(static_cast<size_t>(stride_a * count), 20);
      const std::vector<float> b = random_vector(static_cast<size_t>(stride_b * count), 21);
      const std::vector<float> c0 = random_vector(static_cast<size_t>(stride_c * count), 22);

      std::vector<float> batched = c0;
      cpu().gemm_strided_batched(ta, tb, m, n, k, 0.5f, a.data(), lda, stride_a, b.data(), ldb,
                                 stride_b, -1.5f, batched.data(), ldc, stride_c, count);
      std::vector<float> separate = c0;
      for (int64_t i = 0; i < count; ++i) {
        cpu().gemm(ta, tb, m, n, k, 0.5f, a.data() + i * stride_a, lda, b.data() + i * stride_b,
                   ldb, -1.5f, separate.data() + i * stride_c, ldc);
      }
      EXPECT_EQ(batched, separate) << name(ta) << name(tb);
      EXPECT_NE(batched, c0) << name(ta) << name(tb);
    }
  }
}

TEST_F(CpuBackendTest, GemmStridedBatchedMatchesReferencePerBatch) {
  const int64_t m = 3, n = 2, k = 4, count = 4;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  // Each batch is a separate padded matrix laid end to end.
  std::vector<Matrix> as, bs, cs;
  for (int64_t i = 0; i < count; ++i) {
    as.emplace_back(k, m, 1, 100 + i, nan);  // A stored transposed
    bs.emplace_back(k, n, 2, 200 + i, nan);
    cs.emplace_back(m, n, 1, 300 + i, 99.0f);
  }
  auto pack = [](const std::vector<Matrix>& ms) {
    std::vector<float> out;
    for (const Matrix& x : ms) out.insert(out.end(), x.data.begin(), x.data.end());
    return out;
  };
  const std::vector<float> a = pack(as), b = pack(bs);
  std::vector<float> c = pack(cs);
  const int64_t sa = static_cast<int64_t>(as[0].data.size());
  const int64_t sb = static_cast<int64_t>(bs[0].data.size());
  const int64_t sc = static_cast<int64_t>(cs[0].data.size());
  cpu().gemm_strided_batched(T::Yes, T::No, m, n, k, 1.5f, a.data(), as[0].ld, sa, b.data(),
                             bs[0].ld, sb, 0.5f, c.data(), cs[0].ld, sc, count);
  for (int64_t i = 0; i < count; ++i) {
    const std::vector<float> ci(c.begin() + i * sc, c.begin() + (i + 1) * sc);
    expect_gemm_matches_reference(T::Yes, T::No, m, n, k, 1.5f, as[static_cast<size_t>(i)],
                                  bs[static_cast<size_t>(i)], 0.5f, cs[static_cast<size_t>(i)], ci,
                                  "batch " + std::to_string(i));
  }
}

TEST_F(CpuBackendTest, GemmStridedBatchedWithCountZeroWritesNothing) {
  const std::vector<float> a(4, 1.0f), b(4, 1.0f);
  std::vector<float> c(4, 3.0f);
  cpu().gemm_strided_batched(T::No, T::No, 2, 2, 2, 1.0f, a.data(), 2, 4, b.data(), 2, 4, 0.0f,
                             c.data(), 2, 4, 0);
  EXPECT_EQ(c, std::vector<float>(4, 3.0f));
}

// ---------------------------------------------------------------------------------------------
// Bias helpers

TEST_F(CpuBackendTest, BroadcastRows) {
  const std::vector<float> v = {1.0f, -2.0f, 3.5f};
  std::vector<float> y(4 * 3, std::numeric_limits<float>::quiet_NaN());
  cpu().broadcast_rows(v.data(), 4, 3, y.data());
  for (int r = 0; r < 4; ++r) {
    for (int c = 0; c < 3; ++c) EXPECT_EQ(y[static_cast<size_t>(r * 3 + c)], v[c]) << r << c;
  }
}

TEST_F(CpuBackendTest, ColumnSums) {
  const int64_t rows = 37, cols = 6;
  const std::vector<float> x = random_vector(static_cast<size_t>(rows * cols), 30);
  std::vector<double> sums(cols, 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) sums[c] += x[static_cast<size_t>(r * cols + c)];
  }
  const std::vector<float> start = {10.0f, -20.0f, 0.5f, 0.0f, 3.0f, -1.0f};

  // beta = 0: whatever was in `out` (even NaN) is ignored.
  std::vector<float> out(cols, std::numeric_limits<float>::quiet_NaN());
  cpu().column_sums(x.data(), rows, cols, 0.0f, out.data());
  for (int64_t c = 0; c < cols; ++c) EXPECT_NEAR(out[c], sums[c], 1e-5) << c;

  // beta = 1: accumulates.
  out = start;
  cpu().column_sums(x.data(), rows, cols, 1.0f, out.data());
  for (int64_t c = 0; c < cols; ++c) EXPECT_NEAR(out[c], start[c] + sums[c], 1e-5) << c;

  // Other beta: scales first.
  out = start;
  cpu().column_sums(x.data(), rows, cols, 0.5f, out.data());
  for (int64_t c = 0; c < cols; ++c) EXPECT_NEAR(out[c], 0.5 * start[c] + sums[c], 1e-5) << c;
}

TEST_F(CpuBackendTest, ColumnSumsHandComputed) {
  const std::vector<float> x = {1, 2, 3, 4, 5, 6};  // 2 x 3
  std::vector<float> out = {100, 100, 100};
  cpu().column_sums(x.data(), 2, 3, 0.0f, out.data());
  EXPECT_EQ(out, (std::vector<float>{5, 7, 9}));
  cpu().column_sums(x.data(), 2, 3, 1.0f, out.data());
  EXPECT_EQ(out, (std::vector<float>{10, 14, 18}));
}

// ---------------------------------------------------------------------------------------------
// Activations

std::vector<float> activation_inputs() {
  std::vector<float> x = {-100.0f, -30.0f, -5.0f, -1.0f, -0.5f, -1e-8f, 0.0f,
                          1e-8f,   0.5f,   1.0f,  5.0f,  30.0f, 100.0f};
  const std::vector<float> r = random_vector(200, 40, -8.0f, 8.0f);
  x.insert(x.end(), r.begin(), r.end());
  return x;
}

TEST_F(CpuBackendTest, ReluForwardAndBackward) {
  const std::vector<float> x = activation_inputs();
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<float> y(x.size()), dx(x.size());
  const std::vector<float> dy = random_vector(x.size(), 41);
  cpu().relu_forward(x.data(), y.data(), n);
  cpu().relu_backward(y.data(), dy.data(), dx.data(), n);
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(y[i], std::max(x[i], 0.0f)) << x[i];
    EXPECT_EQ(dx[i], x[i] > 0.0f ? dy[i] : 0.0f) << x[i];
  }
}

TEST_F(CpuBackendTest, SigmoidForwardAndBackward) {
  const std::vector<float> x = activation_inputs();
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<float> y(x.size()), dx(x.size());
  const std::vector<float> dy = random_vector(x.size(), 42);
  cpu().sigmoid_forward(x.data(), y.data(), n);
  cpu().sigmoid_backward(y.data(), dy.data(), dx.data(), n);
  for (size_t i = 0; i < x.size(); ++i) {
    const double s = 1.0 / (1.0 + std::exp(-static_cast<double>(x[i])));
    EXPECT_NEAR(y[i], s, 1e-6) << x[i];
    EXPECT_GE(y[i], 0.0f);
    EXPECT_LE(y[i], 1.0f);
    // The backward pass takes the forward output y: dx = dy * y * (1 - y).
    const double yi = y[i];
    EXPECT_NEAR(dx[i], dy[i] * yi * (1.0 - yi), 1e-7) << x[i];
    EXPECT_NEAR(dx[i], dy[i] * s * (1.0 - s), 1e-6) << x[i];
  }
}

TEST_F(CpuBackendTest, TanhForwardAndBackward) {
  const std::vector<float> x = activation_inputs();
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<float> y(x.size()), dx(x.size());
  const std::vector<float> dy = random_vector(x.size(), 43);
  cpu().tanh_forward(x.data(), y.data(), n);
  cpu().tanh_backward(y.data(), dy.data(), dx.data(), n);
  for (size_t i = 0; i < x.size(); ++i) {
    const double t = std::tanh(static_cast<double>(x[i]));
    EXPECT_NEAR(y[i], t, 1e-6) << x[i];
    const double yi = y[i];
    EXPECT_NEAR(dx[i], dy[i] * (1.0 - yi * yi), 1e-6) << x[i];
    EXPECT_NEAR(dx[i], dy[i] * (1.0 - t * t), 1e-6) << x[i];
  }
}

TEST_F(CpuBackendTest, MultiplyScaleAndSquaredError) {
  const std::vector<float> x = random_vector(50, 44);
  const std::vector<float> z = random_vector(50, 45);
  std::vector<float> y(50), diff(50);
  cpu().multiply(x.data(), z.data(), y.data(), 50);
  for (size_t i = 0; i < 50; ++i) EXPECT_EQ(y[i], x[i] * z[i]);
  cpu().scale(x.data(), -2.5f, y.data(), 50);
  for (size_t i = 0; i < 50; ++i) EXPECT_EQ(y[i], -2.5f * x[i]);
  double expected = 0.0;
  for (size_t i = 0; i < 50; ++i) expected += (double(x[i]) - z[i]) * (double(x[i]) - z[i]);
  EXPECT_NEAR(cpu().squared_error(x.data(), z.data(), 50, diff.data()), expected, 1e-5);
  for (size_t i = 0; i < 50; ++i) EXPECT_EQ(diff[i], x[i] - z[i]);
}

// ---------------------------------------------------------------------------------------------
// Softmax cross-entropy

TEST_F(CpuBackendTest, SoftmaxCrossEntropyHandComputed) {
  const std::vector<float> logits = {1.0f, 2.0f, 3.0f};
  const std::vector<int32_t> label = {2};
  std::vector<float> probs(3);
  const double loss = cpu().softmax_cross_entropy(logits.data(), label.data(), 1, 3, probs.data());
  // -log(e^3 / (e^1 + e^2 + e^3)) = log(1 + e^-1 + e^-2)
  EXPECT_NEAR(loss, 0.40760596, 1e-6);
  EXPECT_NEAR(probs[0], 0.09003057, 1e-6);
  EXPECT_NEAR(probs[1], 0.24472847, 1e-6);
  EXPECT_NEAR(probs[2], 0.66524096, 1e-6);
}

TEST_F(CpuBackendTest, SoftmaxCrossEntropyMatchesDoubleReference) {
  const int64_t rows = 16, cols = 10;
  const std::vector<float> logits = random_vector(static_cast<size_t>(rows * cols), 50, -6, 6);
  Rng rng(51);
  std::vector<int32_t> labels(rows);
  for (int32_t& l : labels) l = static_cast<int32_t>(rng.below(cols));
  std::vector<float> probs(static_cast<size_t>(rows * cols));
  const double loss =
      cpu().softmax_cross_entropy(logits.data(), labels.data(), rows, cols, probs.data());

  double expected = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    const float* z = logits.data() + r * cols;
    double mx = z[0];
    for (int64_t c = 1; c < cols; ++c) mx = std::max(mx, double(z[c]));
    double sum = 0.0;
    for (int64_t c = 0; c < cols; ++c) sum += std::exp(z[c] - mx);
    const double lse = mx + std::log(sum);
    expected += lse - z[labels[r]];
    for (int64_t c = 0; c < cols; ++c) {
      EXPECT_NEAR(probs[static_cast<size_t>(r * cols + c)], std::exp(z[c] - lse), 1e-6)
          << r << ", " << c;
    }
  }
  EXPECT_NEAR(loss, expected, 1e-5 * expected);  // summed, not averaged
}

TEST_F(CpuBackendTest, SoftmaxCrossEntropyIsStableForLargeLogits) {
  const std::vector<float> logits = {1000.0f,  0.0f,     -1000.0f,  // row 0
                                     -1000.0f, -1000.0f, -1000.0f};
  const std::vector<int32_t> labels = {1, 0};
  std::vector<float> probs(6);
  const double loss = cpu().softmax_cross_entropy(logits.data(), labels.data(), 2, 3, probs.data());
  // Row 0: -log softmax = 1000 exactly (to float precision); row 1: log 3.
  EXPECT_NEAR(loss, 1000.0 + std::log(3.0), 1e-3);
  EXPECT_NEAR(probs[0], 1.0f, 1e-7);
  EXPECT_EQ(probs[1], 0.0f);
  EXPECT_EQ(probs[2], 0.0f);
  for (int c = 3; c < 6; ++c) EXPECT_NEAR(probs[c], 1.0 / 3.0, 1e-7);
  for (float p : probs) EXPECT_TRUE(std::isfinite(p));
}

TEST_F(CpuBackendTest, SoftmaxCrossEntropyBackward) {
  const std::vector<float> probs = {0.1f, 0.2f, 0.7f, 0.5f, 0.25f, 0.25f};
  const std::vector<int32_t> labels = {2, 0};
  std::vector<float> d(6);
  cpu().softmax_cross_entropy_backward(probs.data(), labels.data(), 2, 3, 0.5f, d.data());
  const std::vector<float> expected = {0.05f, 0.1f, -0.15f, -0.25f, 0.125f, 0.125f};
  for (size_t i = 0; i < 6; ++i) EXPECT_NEAR(d[i], expected[i], 1e-7) << i;
}

TEST_F(CpuBackendTest, CountCorrectFirstMaximumWinsTies) {
  const std::vector<float> scores = {
      1,  3,  3,   // argmax 1 (tie with 2)
      1,  3,  3,   // argmax 1, label 2: wrong
      5,  5,  5,   // argmax 0
      0,  -1, 2,   // argmax 2
      2,  1,  0,   // argmax 0, label 1: wrong
      -4, -2, -2,  // argmax 1 (negative tie)
  };
  const std::vector<int32_t> labels = {1, 2, 0, 2, 1, 1};
  EXPECT_EQ(cpu().count_correct(scores.data(), labels.data(), 6, 3), 4);
  const std::vector<int32_t> second_of_tie = {2, 2, 1, 0, 0, 2};
  EXPECT_EQ(cpu().count_correct(scores.data(), second_of_tie.data(), 6, 3), 1);  // row 4 only
}

// ---------------------------------------------------------------------------------------------
// Optimizer updates

struct SgdCase {
  float lr, momentum, weight_decay;
  bool nesterov;
};

TEST_F(CpuBackendTest, SgdUpdateMatchesTheFormulaForTwoSteps) {
  // backend.hpp: g = grad + wd*w; v = mu*v + g; w -= lr * (nesterov ? g + mu*v : v)
  const std::vector<SgdCase> cases = {
      {0.1f, 0.0f, 0.0f, false}, {0.1f, 0.0f, 0.01f, false}, {0.05f, 0.9f, 0.0f, false},
      {0.05f, 0.9f, 0.0f, true}, {0.05f, 0.9f, 0.1f, false}, {0.05f, 0.9f, 0.1f, true},
      {0.2f, 0.5f, 0.02f, true},
  };
  const size_t n = 9;
  for (const SgdCase& s : cases) {
    std::vector<float> w = random_vector(n, 60);
    const std::vector<std::vector<float>> grads = {random_vector(n, 61), random_vector(n, 62)};
    std::vector<float> velocity(n, 0.0f);
    std::vector<double> rw(w.begin(), w.end()), rv(n, 0.0);
    for (const std::vector<float>& grad : grads) {
      cpu().sgd_update(w.data(), grad.data(), s.momentum == 0.0f ? nullptr : velocity.data(),
                       static_cast<int64_t>(n), s.lr, s.momentum, s.weight_decay, s.nesterov);
      for (size_t i = 0; i < n; ++i) {
        const double g = grad[i] + double(s.weight_decay) * rw[i];
        if (s.momentum == 0.0f) {
          rw[i] -= double(s.lr) * g;
        } else {
          rv[i] = double(s.momentum) * rv[i] + g;
          rw[i] -= double(s.lr) * (s.nesterov ? g + double(s.momentum) * rv[i] : rv[i]);
        }
      }
    }
    for (size_t i = 0; i < n; ++i) {
      EXPECT_NEAR(w[i], rw[i], 1e-6) << "lr " << s.lr << " mu " << s.momentum << " wd "
                                     << s.weight_decay << " nesterov " << s.nesterov << " i " << i;
      if (s.momentum != 0.0f) {
        EXPECT_NEAR(velocity[i], rv[i], 1e-6) << i;
      }
    }
  }
}

TEST_F(CpuBackendTest, SgdUpdateHandComputed) {
  // w = 1, grad = 0.5 twice, lr = 0.1.
  const float grad = 0.5f;
  {  // plain: 1 - 0.05 - 0.05
    float w = 1.0f;
    for (int t = 0; t < 2; ++t) cpu().sgd_update(&w, &grad, nullptr, 1, 0.1f, 0.0f, 0.0f, false);
    EXPECT_NEAR(w, 0.9f, 1e-6);
  }
  {  // momentum 0.9: v = 0.5, w = 0.95; v = 0.95, w = 0.855
    float w = 1.0f, v = 0.0f;
    for (int t = 0; t < 2; ++t) cpu().sgd_update(&w, &grad, &v, 1, 0.1f, 0.9f, 0.0f, false);
    EXPECT_NEAR(v, 0.95f, 1e-7);
    EXPECT_NEAR(w, 0.855f, 1e-6);
  }
  {  // nesterov: w -= 0.1 * (0.5 + 0.45) -> 0.905; w -= 0.1 * (0.5 + 0.855) -> 0.7695
    float w = 1.0f, v = 0.0f;
    for (int t = 0; t < 2; ++t) cpu().sgd_update(&w, &grad, &v, 1, 0.1f, 0.9f, 0.0f, true);
    EXPECT_NEAR(v, 0.95f, 1e-7);
    EXPECT_NEAR(w, 0.7695f, 1e-6);
  }
  {  // weight decay 0.1, no momentum: g = 0.6, w = 0.94; g = 0.594, w = 0.8806
    float w = 1.0f;
    for (int t = 0; t < 2; ++t) cpu().sgd_update(&w, &grad, nullptr, 1, 0.1f, 0.0f, 0.1f, false);
    EXPECT_NEAR(w, 0.8806f, 1e-6);
  }
}

// The step as optim::Adam fills it: 1 - beta and the bias corrections 1 - beta^t in double.
AdamStep adam_step(float lr, float wd, int t) {
  const double b1 = 0.9, b2 = 0.999;
  return AdamStep{
      .lr = lr,
      .beta1 = static_cast<float>(b1),
      .beta2 = static_cast<float>(b2),
      .eps = 1e-8f,
      .weight_decay = wd,
      .one_minus_beta1 = static_cast<float>(1.0 - b1),
      .one_minus_beta2 = static_cast<float>(1.0 - b2),
      .bias_correction1 = static_cast<float>(1.0 - std::pow(b1, t)),
      .bias_correction2 = static_cast<float>(1.0 - std::pow(b2, t)),
  };
}

TEST_F(CpuBackendTest, AdamUpdateMatchesTheFormulaForTwoSteps) {
  for (float wd : {0.0f, 0.05f}) {
    std::vector<float> w = random_vector(12, 70);
    std::vector<float> g1 = random_vector(12, 71);
    std::vector<float> g2 = random_vector(12, 72);
    // Tiny gradients, where eps dominates the denominator (eps must be added after the bias
    // correction of sqrt(v)).
    g1[0] = 1e-9f;
    g2[0] = 2e-9f;
    g1[1] = -3e-9f;
    g2[1] = 1e-9f;
    w[0] = 0.0f;  // keeps the weight-decay term from swamping the tiny gradient
    w[1] = 0.0f;
    std::vector<float> m(12, 0.0f), v(12, 0.0f);
    std::vector<double> rw(w.begin(), w.end()), rm(12, 0.0), rv(12, 0.0);
    int t = 0;
    for (const std::vector<float>* grad : {&g1, &g2}) {
      ++t;
      const AdamStep s = adam_step(0.01f, wd, t);
      cpu().adam_update(w.data(), grad->data(), m.data(), v.data(), 12, s);
      const double bc1 = 1.0 - std::pow(0.9, t), bc2 = 1.0 - std::pow(0.999, t);
      for (size_t i = 0; i < 12; ++i) {
        // torch.optim.Adam: g += wd*w; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
        // w -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps)
        const double g = (*grad)[i] + double(wd) * rw[i];
        rm[i] = 0.9 * rm[i] + 0.1 * g;
        rv[i] = 0.999 * rv[i] + 0.001 * g * g;
        rw[i] -= 0.01 / bc1 * rm[i] / (std::sqrt(rv[i]) / std::sqrt(bc2) + 1e-8);
      }
    }
    for (size_t i = 0; i < 12; ++i) {
      EXPECT_NEAR(w[i], rw[i], 5e-7) << "wd " << wd << " i " << i;
      EXPECT_NEAR(m[i], rm[i], 1e-5 * std::abs(rm[i]) + 1e-12) << "wd " << wd << " i " << i;
      EXPECT_NEAR(v[i], rv[i], 1e-5 * std::abs(rv[i]) + 1e-20) << "wd " << wd << " i " << i;
    }
  }
}

TEST_F(CpuBackendTest, AdamUpdateHandComputed) {
  // w = 1, grad = 0.5 twice, lr = 0.1: bias-corrected m/sqrt(v) is 1 both steps, so w = 0.9, 0.8.
  float w = 1.0f, m = 0.0f, v = 0.0f;
  const float grad = 0.5f;
  cpu().adam_update(&w, &grad, &m, &v, 1, adam_step(0.1f, 0.0f, 1));
  EXPECT_NEAR(w, 0.9f, 1e-6);
  EXPECT_NEAR(m, 0.05f, 1e-8);
  EXPECT_NEAR(v, 0.00025f, 1e-10);
  cpu().adam_update(&w, &grad, &m, &v, 1, adam_step(0.1f, 0.0f, 2));
  EXPECT_NEAR(w, 0.8f, 1e-6);
  EXPECT_NEAR(m, 0.095f, 1e-8);
  EXPECT_NEAR(v, 0.00049975f, 1e-10);
}

TEST_F(CpuBackendTest, AdamUsesTheGivenOneMinusBeta) {
  // 1 - 0.999f in float is 0.00100004673, not 0.001: the kernel must use the step's
  // one_minus_beta values (computed in double), not recompute them from the float betas.
  float w = 1.0f, m = 0.0f, v = 0.0f;
  const float grad = 0.5f;
  const AdamStep s = adam_step(0.1f, 0.0f, 1);
  ASSERT_NE(s.one_minus_beta2, 1.0f - s.beta2);
  cpu().adam_update(&w, &grad, &m, &v, 1, s);
  EXPECT_EQ(m, s.one_minus_beta1 * 0.5f);
  EXPECT_EQ(v, s.one_minus_beta2 * 0.25f);
}

// ---------------------------------------------------------------------------------------------
// Dropout

TEST_F(CpuBackendTest, DropoutSameSeedSameMask) {
  const size_t n = 5000;
  const std::vector<float> x = random_vector(n, 80);
  std::vector<float> y1(n), m1(n), y2(n), m2(n), y3(n), m3(n);
  const int64_t in = static_cast<int64_t>(n);
  cpu().dropout_forward(x.data(), y1.data(), m1.data(), in, 0.3f, 1234);
  cpu().dropout_forward(x.data(), y2.data(), m2.data(), in, 0.3f, 1234);
  cpu().dropout_forward(x.data(), y3.data(), m3.data(), in, 0.3f, 1235);
  EXPECT_EQ(m1, m2);
  EXPECT_EQ(y1, y2);
  EXPECT_NE(m1, m3);
}

TEST_F(CpuBackendTest, DropoutMaskIsZeroOrInverseKeepProbability) {
  const size_t n = 100000;
  const float p = 0.3f;
  const std::vector<float> x = random_vector(n, 81);
  std::vector<float> y(n), mask(n);
  cpu().dropout_forward(x.data(), y.data(), mask.data(), static_cast<int64_t>(n), p, 99);
  const float keep = 1.0f / (1.0f - p);
  size_t kept = 0;
  for (size_t i = 0; i < n; ++i) {
    ASSERT_TRUE(mask[i] == 0.0f || mask[i] == keep) << "mask[" << i << "] = " << mask[i];
    ASSERT_EQ(y[i], x[i] * mask[i]) << i;
    kept += mask[i] != 0.0f;
  }
  const double q = 1.0 - p;
  EXPECT_NEAR(static_cast<double>(kept) / n, q, 6.0 * std::sqrt(q * (1.0 - q) / n));
}

TEST_F(CpuBackendTest, DropoutWithZeroProbabilityKeepsEverything) {
  const size_t n = 1000;
  const std::vector<float> x = random_vector(n, 82);
  std::vector<float> y(n), mask(n);
  cpu().dropout_forward(x.data(), y.data(), mask.data(), static_cast<int64_t>(n), 0.0f, 5);
  EXPECT_EQ(mask, std::vector<float>(n, 1.0f));
  EXPECT_EQ(y, x);
}

// ---------------------------------------------------------------------------------------------
// Threads

TEST_F(CpuBackendTest, DeviceIsCpu) {
  EXPECT_EQ(cpu().device(), Device::Cpu);
}

TEST_F(CpuBackendTest, SetThreadsRejectsLessThanOne) {
  EXPECT_THROW(cpu().set_threads(0), InvalidArgument);
  EXPECT_THROW(cpu().set_threads(-2), InvalidArgument);
  EXPECT_EQ(cpu().threads(), 1);
  cpu().set_threads(2);
  EXPECT_EQ(cpu().threads(), 2);
  EXPECT_THROW(cpu().set_threads(0), InvalidArgument);
  EXPECT_EQ(cpu().threads(), 2);  // unchanged by the rejected call
  cpu().set_threads(1);
  EXPECT_EQ(cpu().threads(), 1);
}

// Runs every element-wise kernel on n inputs; returns all outputs concatenated.
std::vector<float> run_elementwise_kernels(int64_t n) {
  const size_t un = static_cast<size_t>(n);
  const std::vector<float> x = random_vector(un, 90, -6.0f, 6.0f);
  const std::vector<float> dy = random_vector(un, 91);
  const std::vector<float> grad = random_vector(un, 92);
  std::vector<float> out;
  auto append = [&](const std::vector<float>& v) { out.insert(out.end(), v.begin(), v.end()); };
  std::vector<float> y(un), dx(un);

  cpu().relu_forward(x.data(), y.data(), n);
  cpu().relu_backward(y.data(), dy.data(), dx.data(), n);
  append(y);
  append(dx);
  cpu().sigmoid_forward(x.data(), y.data(), n);
  cpu().sigmoid_backward(y.data(), dy.data(), dx.data(), n);
  append(y);
  append(dx);
  cpu().tanh_forward(x.data(), y.data(), n);
  cpu().tanh_backward(y.data(), dy.data(), dx.data(), n);
  append(y);
  append(dx);
  cpu().multiply(x.data(), dy.data(), y.data(), n);
  append(y);
  cpu().scale(x.data(), 0.37f, y.data(), n);
  append(y);
  std::vector<float> mask(un);
  cpu().dropout_forward(x.data(), y.data(), mask.data(), n, 0.25f, 7);
  append(y);
  append(mask);

  for (float mu : {0.0f, 0.9f}) {
    for (bool nesterov : {false, true}) {
      std::vector<float> w = x, v(un, 0.0f);
      for (int t = 0; t < 2; ++t) {
        cpu().sgd_update(w.data(), grad.data(), v.data(), n, 0.05f, mu, 0.01f, nesterov);
      }
      append(w);
      append(v);
    }
  }
  std::vector<float> w = x, m(un, 0.0f), v(un, 0.0f);
  for (int t = 1; t <= 2; ++t) {
    cpu().adam_update(w.data(), grad.data(), m.data(), v.data(), n, adam_step(0.01f, 0.01f, t));
  }
  append(w);
  append(m);
  append(v);
  return out;
}

TEST_F(CpuBackendTest, ParallelElementwiseKernelsEqualSingleThreaded) {
  for (int64_t n : {int64_t{1} << 16, (int64_t{1} << 17) + 13}) {
    cpu().set_threads(1);
    const std::vector<float> serial = run_elementwise_kernels(n);
    cpu().set_threads(2);
    ASSERT_EQ(cpu().threads(), 2);
    const std::vector<float> parallel = run_elementwise_kernels(n);
    cpu().set_threads(1);
    ASSERT_EQ(serial.size(), parallel.size());
    size_t mismatches = 0;
    size_t first = 0;
    for (size_t i = 0; i < serial.size(); ++i) {
      // Bitwise equality (NaN-safe): the threads split the indices, not the arithmetic.
      if (std::memcmp(&serial[i], &parallel[i], sizeof(float)) != 0 && mismatches++ == 0) {
        first = i;
      }
    }
    EXPECT_EQ(mismatches, 0u) << "n = " << n << ", first mismatch at output " << first << " ("
                              << first / static_cast<size_t>(n) << "th kernel output)";
  }
  EXPECT_EQ(cpu().threads(), 1);
}

TEST_F(CpuBackendTest, GemmWithTwoThreadsMatchesReference) {
  cpu().set_threads(2);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const Matrix a(200, 150, 3, 95, nan);
  const Matrix b(150, 120, 1, 96, nan);
  const Matrix c0(200, 120, 2, 97, 5.0f);
  std::vector<float> c = c0.data;
  cpu().gemm(T::No, T::No, 200, 120, 150, 1.0f, a.data.data(), a.ld, b.data.data(), b.ld, 0.5f,
             c.data(), c0.ld);
  cpu().set_threads(1);
  expect_gemm_matches_reference(T::No, T::No, 200, 120, 150, 1.0f, a, b, 0.5f, c0, c, "2 threads");
}

}  // namespace
}  // namespace krill::backend
