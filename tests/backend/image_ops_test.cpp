// The image kernels (im2col, convolution, pooling) against direct double-precision loops written
// from the definitions in backend/geometry.hpp, on one thread and on a team of two.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "backend/cpu/im2col.hpp"
#include "core/rng.hpp"

namespace krill::backend {
namespace {

Backend& cpu() {
  return backend(Device::Cpu);
}

Tensor random_tensor(Shape shape, uint64_t seed) {
  Tensor t(shape);
  Rng rng(seed);
  for (float& v : t.values()) v = rng.uniform(-1.0f, 1.0f);
  return t;
}

std::string name(const Conv2dGeometry& g) {
  return g.input.to_string() + " k" + std::to_string(g.kernel) + " s" + std::to_string(g.stride) +
         " p" + std::to_string(g.padding);
}

// x[n, c, h, w] of a [N, C*H*W] tensor, 0 outside the image (the padding).
double pixel(const Tensor& x, ImageShape s, int64_t n, int64_t c, int64_t h, int64_t w) {
  if (h < 0 || h >= s.height || w < 0 || w >= s.width) return 0.0;
  return x[((n * s.channels + c) * s.height + h) * s.width + w];
}

void expect_near_all(const Tensor& actual, const std::vector<double>& expected,
                     const std::string& what, double tol = 1e-4) {
  ASSERT_EQ(actual.numel(), static_cast<int64_t>(expected.size())) << what;
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_NEAR(actual[static_cast<int64_t>(i)], expected[i],
                tol * std::max(1.0, std::abs(expected[i])))
        << what << "[" << i << "]";
  }
}

// ---------------------------------------------------------------------------------------------
// Convolution

struct ConvCase {
  Conv2dGeometry g;
  int64_t batch;
};

// Small and odd shapes, a 1x1 kernel (no im2col), padding wider than the kernel (rows of only
// padding), and two with enough work per batch for a team of threads.
const ConvCase kConvCases[] = {
    {{.input = {2, 5, 4}, .out_channels = 3, .kernel = 3, .stride = 1, .padding = 0}, 3},
    {{.input = {2, 6, 5}, .out_channels = 3, .kernel = 3, .stride = 2, .padding = 1}, 3},
    {{.input = {3, 4, 4}, .out_channels = 2, .kernel = 1, .stride = 1, .padding = 0}, 3},
    {{.input = {1, 7, 9}, .out_channels = 2, .kernel = 2, .stride = 3, .padding = 2}, 2},
    {{.input = {1, 28, 28}, .out_channels = 4, .kernel = 5, .stride = 1, .padding = 0}, 8},
    {{.input = {4, 9, 7}, .out_channels = 5, .kernel = 3, .stride = 1, .padding = 1}, 16},
};

struct ConvReference {
  std::vector<double> y, dx, dw, db;
};

ConvReference reference_conv(const ConvCase& cc, const Tensor& x, const Tensor& w, const Tensor& b,
                             const Tensor& dy) {
  const Conv2dGeometry& g = cc.g;
  const ImageShape in = g.input, out = g.output();
  const int64_t k = g.kernel;
  ConvReference r{std::vector<double>(static_cast<size_t>(cc.batch * out.numel())),
                  std::vector<double>(static_cast<size_t>(cc.batch * in.numel())),
                  std::vector<double>(static_cast<size_t>(w.numel())),
                  std::vector<double>(static_cast<size_t>(b.numel()))};
  for (int64_t n = 0; n < cc.batch; ++n) {
    for (int64_t o = 0; o < out.channels; ++o) {
      for (int64_t i = 0; i < out.height; ++i) {
        for (int64_t j = 0; j < out.width; ++j) {
          const int64_t at = ((n * out.channels + o) * out.height + i) * out.width + j;
          double sum = b[o];
          r.db[static_cast<size_t>(o)] += dy[at];
          for (int64_t c = 0; c < in.channels; ++c) {
            for (int64_t u = 0; u < k; ++u) {
              for (int64_t v = 0; v < k; ++v) {
                const int64_t h = i * g.stride - g.padding + u, ww = j * g.stride - g.padding + v;
                const int64_t wi = o * g.patch_size() + (c * k + u) * k + v;
                sum += w[wi] * pixel(x, in, n, c, h, ww);
                r.dw[static_cast<size_t>(wi)] += dy[at] * pixel(x, in, n, c, h, ww);
                if (h >= 0 && h < in.height && ww >= 0 && ww < in.width) {
                  r.dx[static_cast<size_t>(((n * in.channels + c) * in.height + h) * in.width +
                                           ww)] += dy[at] * w[wi];
                }
              }
            }
          }
          r.y[static_cast<size_t>(at)] = sum;
        }
      }
    }
  }
  return r;
}

void check_conv(const ConvCase& cc, int threads) {
  SCOPED_TRACE(name(cc.g) + ", batch " + std::to_string(cc.batch) + ", threads " +
               std::to_string(threads));
  cpu().set_threads(threads);
  const Conv2dGeometry& g = cc.g;
  Tensor x = random_tensor({cc.batch, g.input.numel()}, 1);
  Tensor w = random_tensor({g.out_channels, g.patch_size()}, 2);
  Tensor b = random_tensor({g.out_channels}, 3);
  Tensor dy = random_tensor({cc.batch, g.output().numel()}, 4);
  const ConvReference ref = reference_conv(cc, x, w, b, dy);

  Tensor y({cc.batch, g.output().numel()}), workspace;
  Tensor dw({g.out_channels, g.patch_size()}), db({g.out_channels});
  Tensor dx({cc.batch, g.input.numel()});
  dw.fill(std::numeric_limits<float>::quiet_NaN());  // overwritten, not accumulated
  db.fill(std::numeric_limits<float>::quiet_NaN());
  dx.fill(std::numeric_limits<float>::quiet_NaN());
  cpu().conv2d_forward(g, x, w, b, y, workspace);
  expect_near_all(y, ref.y, "y");
  cpu().conv2d_backward(g, x, dy, w, dw, db, &dx, workspace);
  expect_near_all(dx, ref.dx, "dx");
  expect_near_all(dw, ref.dw, "dw");
  expect_near_all(db, ref.db, "db");
  // Without dx: the parameter gradients do not change.
  Tensor dw2({g.out_channels, g.patch_size()}), db2({g.out_channels});
  cpu().conv2d_backward(g, x, dy, w, dw2, db2, nullptr, workspace);
  expect_near_all(dw2, ref.dw, "dw without dx");
  expect_near_all(db2, ref.db, "db without dx");
  cpu().set_threads(1);
}

TEST(Conv2dKernel, MatchesDirectConvolutionOnOneThread) {
  for (const ConvCase& cc : kConvCases) check_conv(cc, 1);
}

TEST(Conv2dKernel, MatchesDirectConvolutionOnTwoThreads) {
  for (const ConvCase& cc : kConvCases) check_conv(cc, 2);
}

TEST(Conv2dKernel, AnEmptyBatchHasZeroParameterGradients) {
  const Conv2dGeometry g{.input = {2, 4, 4}, .out_channels = 3, .kernel = 3};
  Tensor x({0, 32}), dy({0, 12}), w = random_tensor({3, 18}, 1), workspace;
  Tensor dw({3, 18}), db({3});
  dw.fill(5.0f);
  db.fill(5.0f);
  cpu().conv2d_backward(g, x, dy, w, dw, db, nullptr, workspace);
  for (float v : dw.values()) ASSERT_EQ(v, 0.0f);
  for (float v : db.values()) ASSERT_EQ(v, 0.0f);
}

TEST(Im2col, MatchesTheDefinition) {
  for (const ConvCase& cc : kConvCases) {
    const Conv2dGeometry& g = cc.g;
    SCOPED_TRACE(name(g));
    Tensor x = random_tensor({1, g.input.numel()}, 5);
    const int64_t pixels = g.out_height() * g.out_width();
    std::vector<float> col(static_cast<size_t>(g.patch_size() * pixels), -7.0f);
    im2col(g, x.data(), col.data());
    for (int64_t c = 0; c < g.input.channels; ++c) {
      for (int64_t u = 0; u < g.kernel; ++u) {
        for (int64_t v = 0; v < g.kernel; ++v) {
          for (int64_t i = 0; i < g.out_height(); ++i) {
            for (int64_t j = 0; j < g.out_width(); ++j) {
              const int64_t row = (c * g.kernel + u) * g.kernel + v;
              ASSERT_EQ(col[static_cast<size_t>(row * pixels + i * g.out_width() + j)],
                        pixel(x, g.input, 0, c, i * g.stride - g.padding + u,
                              j * g.stride - g.padding + v))
                  << "c " << c << " u " << u << " v " << v << " i " << i << " j " << j;
            }
          }
        }
      }
    }
  }
}

// col2im is im2col's adjoint: <im2col(x), c> = <x, col2im(c)> for every x and c.
TEST(Im2col, Col2imIsTheAdjoint) {
  for (const ConvCase& cc : kConvCases) {
    const Conv2dGeometry& g = cc.g;
    SCOPED_TRACE(name(g));
    const int64_t col_size = g.patch_size() * g.out_height() * g.out_width();
    Tensor x = random_tensor({g.input.numel()}, 6);
    Tensor c = random_tensor({col_size}, 7);
    std::vector<float> col(static_cast<size_t>(col_size));
    im2col(g, x.data(), col.data());
    std::vector<float> back(static_cast<size_t>(g.input.numel()), 0.0f);
    col2im_add(g, c.data(), back.data());
    double lhs = 0, rhs = 0;
    for (int64_t i = 0; i < col_size; ++i)
      lhs += static_cast<double>(col[static_cast<size_t>(i)]) * c[i];
    for (int64_t i = 0; i < x.numel(); ++i)
      rhs += static_cast<double>(x[i]) * back[static_cast<size_t>(i)];
    EXPECT_NEAR(lhs, rhs, 1e-4 * std::max(1.0, std::abs(lhs)));
  }
}

// ---------------------------------------------------------------------------------------------
// Pooling

struct PoolCase {
  Pool2dGeometry g;
  int64_t batch;
};

// Tiling windows, overlapping ones (stride < kernel), gaps (stride > kernel), sizes the windows do
// not divide, and a batch big enough for a team.
const PoolCase kPoolCases[] = {
    {{.input = {2, 4, 6}, .kernel = 2, .stride = 2}, 3},
    {{.input = {3, 7, 5}, .kernel = 3, .stride = 2}, 2},
    {{.input = {1, 5, 5}, .kernel = 2, .stride = 3}, 2},
    {{.input = {2, 5, 4}, .kernel = 2, .stride = 1}, 2},
    {{.input = {32, 24, 24}, .kernel = 2, .stride = 2}, 4},
};

void check_pools(const PoolCase& pc, int threads) {
  const Pool2dGeometry& g = pc.g;
  SCOPED_TRACE(g.input.to_string() + " k" + std::to_string(g.kernel) + " s" +
               std::to_string(g.stride) + ", threads " + std::to_string(threads));
  cpu().set_threads(threads);
  const ImageShape in = g.input, out = g.output();
  // Distinct values (a permutation) so that every window has one maximum.
  Tensor x({pc.batch, in.numel()});
  std::vector<int64_t> order(static_cast<size_t>(x.numel()));
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  Rng rng(8);
  rng.shuffle(std::span<int64_t>(order));
  for (int64_t i = 0; i < x.numel(); ++i)
    x[i] = static_cast<float>(order[static_cast<size_t>(i)]) * 0.01f - 3.0f;
  Tensor dy = random_tensor({pc.batch, out.numel()}, 9);

  std::vector<double> max_y(static_cast<size_t>(dy.numel())), avg_y(max_y.size());
  std::vector<double> max_dx(static_cast<size_t>(x.numel())), avg_dx(max_dx.size());
  for (int64_t n = 0; n < pc.batch; ++n) {
    for (int64_t c = 0; c < in.channels; ++c) {
      for (int64_t i = 0; i < out.height; ++i) {
        for (int64_t j = 0; j < out.width; ++j) {
          const size_t at =
              static_cast<size_t>(((n * in.channels + c) * out.height + i) * out.width + j);
          double best = -1e30, sum = 0;
          int64_t best_at = -1;
          for (int64_t u = 0; u < g.kernel; ++u) {
            for (int64_t v = 0; v < g.kernel; ++v) {
              const int64_t h = i * g.stride + u, w = j * g.stride + v;
              const int64_t xi = ((n * in.channels + c) * in.height + h) * in.width + w;
              sum += x[xi];
              if (x[xi] > best) best = x[xi], best_at = xi;
            }
          }
          max_y[at] = best;
          avg_y[at] = sum / static_cast<double>(g.kernel * g.kernel);
          max_dx[static_cast<size_t>(best_at)] += dy[static_cast<int64_t>(at)];
          for (int64_t u = 0; u < g.kernel; ++u) {
            for (int64_t v = 0; v < g.kernel; ++v) {
              const int64_t h = i * g.stride + u, w = j * g.stride + v;
              avg_dx[static_cast<size_t>(((n * in.channels + c) * in.height + h) * in.width + w)] +=
                  dy[static_cast<int64_t>(at)] / static_cast<double>(g.kernel * g.kernel);
            }
          }
        }
      }
    }
  }
  Tensor y(dy.shape()), argmax(dy.shape()), dx(x.shape());
  dx.fill(std::numeric_limits<float>::quiet_NaN());  // every entry written, uncovered ones as 0
  cpu().max_pool2d_forward(g, x, y, argmax);
  expect_near_all(y, max_y, "max y", 0.0);
  cpu().max_pool2d_backward(g, dy, argmax, dx);
  expect_near_all(dx, max_dx, "max dx", 1e-6);
  dx.fill(std::numeric_limits<float>::quiet_NaN());
  cpu().avg_pool2d_forward(g, x, y);
  expect_near_all(y, avg_y, "avg y", 1e-6);
  cpu().avg_pool2d_backward(g, dy, dx);
  expect_near_all(dx, avg_dx, "avg dx", 1e-6);
  cpu().set_threads(1);
}

TEST(Pool2dKernels, MatchDirectLoopsOnOneThread) {
  for (const PoolCase& pc : kPoolCases) check_pools(pc, 1);
}

TEST(Pool2dKernels, MatchDirectLoopsOnTwoThreads) {
  for (const PoolCase& pc : kPoolCases) check_pools(pc, 2);
}

TEST(Pool2dKernels, MaxPoolPropagatesNaN) {
  const Pool2dGeometry g{.input = {1, 2, 2}, .kernel = 2, .stride = 2};
  Tensor x = Tensor::from({1, 4}, std::vector<float>{1.0f, std::nanf(""), 3.0f, 2.0f});
  Tensor y({1, 1}), argmax({1, 1});
  cpu().max_pool2d_forward(g, x, y, argmax);
  EXPECT_TRUE(std::isnan(y[0]));
  EXPECT_EQ(argmax[0], 1.0f);
}

}  // namespace
}  // namespace krill::backend
