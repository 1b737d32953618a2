// The CUDA backend's element-wise kernels, losses, accuracy and optimizer updates, each the CPU
// backend's formula (cpu_backend.cpp) in the CPU's order of operations where there is one: a row's
// softmax and argmax run on one thread, left to right, as on the CPU; column sums add the rows in
// order. Sums the CPU takes in double (losses) are taken in double, per thread, then per block,
// and the blocks' partial sums are added on the host in block order: results do not depend on
// timing. The population ops (*_batched) are one launch each, member p at blockIdx.y or i / n.
#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cuda/cuda_backend.hpp"
#include "backend/cuda/cuda_util.cuh"
#include "core/pixels.hpp"

namespace krill::backend {

namespace {

using cuda::for_each_index;
using cuda::kMaxGridY;
using cuda::kThreadsPerBlock;
using cuda::Staging;

// Row-wise kernels (softmax, argmax): one thread per row, at most this many blocks per member;
// each block leaves one partial sum per member.
constexpr int64_t kMaxRowBlocks = 64;

unsigned row_blocks(int64_t rows) {
  const int64_t blocks = (rows + kThreadsPerBlock - 1) / kThreadsPerBlock;
  return static_cast<unsigned>(std::clamp<int64_t>(blocks, 1, kMaxRowBlocks));
}

// softmax over each row of `cols` logits (max subtracted, as cpu_backend.cpp does), probs written;
// partial[member * gridDim.x + block] = the block's summed -log softmax(z)_label, in double.
__global__ void softmax_cross_entropy_kernel(const float* logits, const int32_t* labels,
                                             int64_t rows, int64_t cols, float* probs,
                                             double* partial) {
  const int64_t member = blockIdx.y;
  double total = 0.0;
  for (int64_t r = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; r < rows;
       r += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t row = member * rows + r;
    const float* z = logits + row * cols;
    float* p = probs + row * cols;
    float max = -INFINITY;
    for (int64_t c = 0; c < cols; ++c) max = max < z[c] ? z[c] : max;  // std::max's rule
    float sum = 0.0f;
    for (int64_t c = 0; c < cols; ++c) {
      p[c] = expf(z[c] - max);
      sum += p[c];
    }
    const float inv = 1.0f / sum;
    for (int64_t c = 0; c < cols; ++c) p[c] *= inv;
    total += static_cast<double>(logf(sum)) + static_cast<double>(max - z[labels[row]]);
  }
  const double block_total = cuda::block_sum(total);
  if (threadIdx.x == 0) partial[member * gridDim.x + blockIdx.x] = block_total;
}

// partial[member * gridDim.x + block] = the block's rows whose first maximum is the label.
__global__ void count_correct_kernel(const float* scores, const int32_t* labels, int64_t rows,
                                     int64_t cols, double* partial) {
  const int64_t member = blockIdx.y;
  double correct = 0.0;  // exact below 2^53 rows
  for (int64_t r = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; r < rows;
       r += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t row = member * rows + r;
    const float* s = scores + row * cols;
    int64_t best = 0;  // std::max_element: the first of the largest
    for (int64_t c = 1; c < cols; ++c) best = s[best] < s[c] ? c : best;
    correct += best == labels[row] ? 1.0 : 0.0;
  }
  const double block_correct = cuda::block_sum(correct);
  if (threadIdx.x == 0) partial[member * gridDim.x + blockIdx.x] = block_correct;
}

// partial[block] = the block's sum of (pred - target)^2, in double; diff written.
__global__ void squared_error_kernel(const float* pred, const float* target, int64_t n, float* diff,
                                     double* partial) {
  double total = 0.0;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    diff[i] = pred[i] - target[i];
    total += static_cast<double>(diff[i]) * diff[i];
  }
  const double block_total = cuda::block_sum(total);
  if (threadIdx.x == 0) partial[blockIdx.x] = block_total;
}

// Each member's sum of its blocks' partial sums, in block order.
std::vector<double> sum_partials(const double* device_partial, int64_t members, unsigned blocks) {
  std::vector<double> partial(static_cast<size_t>(members) * blocks);
  cuda::download(partial.data(), device_partial, partial.size() * sizeof(double));
  std::vector<double> totals(static_cast<size_t>(members), 0.0);
  for (int64_t p = 0; p < members; ++p) {
    for (unsigned b = 0; b < blocks; ++b) totals[p] += partial[p * blocks + b];
  }
  return totals;
}

// Labels [members * rows] and room for [members * blocks] partial sums in the thread's scratch.
struct RowReduction {
  const int32_t* labels;
  double* partial;
  unsigned blocks;
};

RowReduction stage_row_reduction(const int32_t* labels, int64_t members, int64_t rows) {
  Staging staging;
  const unsigned blocks = row_blocks(rows);
  const size_t labels_at = staging.add(labels, members * rows);
  const size_t partial_at = staging.reserve(static_cast<size_t>(members) * blocks * sizeof(double));
  char* block = staging.upload();
  return {reinterpret_cast<const int32_t*>(block + labels_at),
          reinterpret_cast<double*>(block + partial_at), blocks};
}

// splitmix64's finaliser (Steele et al., "Fast splittable pseudorandom number generators", 2014)
// of the counter i + 1 stepped from the seed: a uniform 64-bit value per (seed, i).
__device__ inline uint64_t hash(uint64_t seed, uint64_t i) {
  uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

void CudaBackend::broadcast_rows(const float* v, int64_t rows, int64_t cols, float* y) {
  broadcast_rows_batched(v, 1, rows, cols, y);
}

void CudaBackend::broadcast_rows_batched(const float* v, int64_t members, int64_t rows,
                                         int64_t cols, float* y) {
  if (cols == 0) return;
  const int64_t per_member = rows * cols;
  for_each_index(
      members * per_member,
      [=] __device__(int64_t i) { y[i] = v[(i / per_member) * cols + i % cols]; },
      "broadcast_rows");
}

void CudaBackend::column_sums(const float* x, int64_t rows, int64_t cols, float beta, float* out) {
  column_sums_batched(x, 1, rows, cols, beta, out);
}

// One thread per (member, column), adding the rows in order onto beta * out, as the CPU does.
void CudaBackend::column_sums_batched(const float* x, int64_t members, int64_t rows, int64_t cols,
                                      float beta, float* out) {
  if (cols == 0) return;
  for_each_index(
      members * cols,
      [=] __device__(int64_t i) {
        const int64_t member = i / cols, c = i % cols;
        float sum = beta == 0.0f ? 0.0f : (beta == 1.0f ? out[i] : out[i] * beta);
        const float* column = x + member * rows * cols + c;
        for (int64_t r = 0; r < rows; ++r) sum += column[r * cols];
        out[i] = sum;
      },
      "column_sums");
}

void CudaBackend::relu_forward(const float* x, float* y, int64_t n) {
  for_each_index(
      n, [=] __device__(int64_t i) { y[i] = x[i] > 0.0f ? x[i] : 0.0f; }, "relu_forward");
}

void CudaBackend::relu_backward(const float* y, const float* dy, float* dx, int64_t n) {
  for_each_index(
      n, [=] __device__(int64_t i) { dx[i] = y[i] > 0.0f ? dy[i] : 0.0f; }, "relu_backward");
}

void CudaBackend::sigmoid_forward(const float* x, float* y, int64_t n) {
  for_each_index(
      n, [=] __device__(int64_t i) { y[i] = 1.0f / (1.0f + expf(-x[i])); }, "sigmoid_forward");
}

void CudaBackend::sigmoid_backward(const float* y, const float* dy, float* dx, int64_t n) {
  for_each_index(
      n, [=] __device__(int64_t i) { dx[i] = dy[i] * y[i] * (1.0f - y[i]); }, "sigmoid_backward");
}

void CudaBackend::tanh_forward(const float* x, float* y, int64_t n) {
  for_each_index(
      n, [=] __device__(int64_t i) { y[i] = tanhf(x[i]); }, "tanh_forward");
}

void CudaBackend::tanh_backward(const float* y, const float* dy, float* dx, int64_t n) {
  for_each_index(
      n, [=] __device__(int64_t i) { dx[i] = dy[i] * (1.0f - y[i] * y[i]); }, "tanh_backward");
}

// u = the hash's top 24 bits / 2^24, uniform on [0, 1) like the CPU's Rng::uniform(); kept when
// u >= p, so each value is kept with probability 1 - p (up to 2^-24), independently.
void CudaBackend::dropout_forward(const float* x, float* y, float* mask, int64_t n, float p,
                                  uint64_t seed) {
  const float keep_scale = 1.0f / (1.0f - p);
  for_each_index(
      n,
      [=] __device__(int64_t i) {
        const float u =
            static_cast<float>(hash(seed, static_cast<uint64_t>(i)) >> 40) * (1.0f / 16777216.0f);
        mask[i] = u >= p ? keep_scale : 0.0f;
        y[i] = x[i] * mask[i];
      },
      "dropout_forward");
}

void CudaBackend::multiply(const float* x, const float* mask, float* y, int64_t n) {
  for_each_index(
      n, [=] __device__(int64_t i) { y[i] = x[i] * mask[i]; }, "multiply");
}

void CudaBackend::scale(const float* x, float alpha, float* y, int64_t n) {
  for_each_index(
      n, [=] __device__(int64_t i) { y[i] = alpha * x[i]; }, "scale");
}

void CudaBackend::gather_images(const uint8_t* pixels, const int64_t* rows, int64_t count,
                                int64_t features, float* out) {
  if (count <= 0 || features <= 0) return;
  Staging staging;
  const size_t rows_at = staging.add(rows, count);
  const auto* device_rows = reinterpret_cast<const int64_t*>(staging.upload() + rows_at);
  const float scale = kPixelScale;  // one rounding, as on the CPU (--fmad=false)
  for_each_index(
      count * features,
      [=] __device__(int64_t i) {
        const int64_t r = i / features;
        out[i] = static_cast<float>(pixels[device_rows[r] * features + (i - r * features)]) * scale;
      },
      "gather_images");
}

double CudaBackend::softmax_cross_entropy(const float* logits, const int32_t* labels, int64_t rows,
                                          int64_t cols, float* probs) {
  double loss = 0.0;
  softmax_cross_entropy_batched(logits, labels, 1, rows, cols, probs, &loss);
  return loss;
}

void CudaBackend::softmax_cross_entropy_batched(const float* logits, const int32_t* labels,
                                                int64_t members, int64_t rows, int64_t cols,
                                                float* probs, double* losses) {
  if (members == 0) return;
  if (members > kMaxGridY) {
    Backend::softmax_cross_entropy_batched(logits, labels, members, rows, cols, probs, losses);
    return;
  }
  const RowReduction staged = stage_row_reduction(labels, members, rows);
  softmax_cross_entropy_kernel<<<dim3(staged.blocks, static_cast<unsigned>(members)),
                                 kThreadsPerBlock, 0, cuda::stream()>>>(
      logits, staged.labels, rows, cols, probs, staged.partial);
  KRILL_CUDA_CHECK_LAUNCH("softmax_cross_entropy");
  const std::vector<double> totals = sum_partials(staged.partial, members, staged.blocks);
  std::copy(totals.begin(), totals.end(), losses);
}

// dlogits = scale * probs, then scale taken off at the label: the CPU's two roundings.
void CudaBackend::softmax_cross_entropy_backward(const float* probs, const int32_t* labels,
                                                 int64_t rows, int64_t cols, float scale,
                                                 float* dlogits) {
  if (rows == 0 || cols == 0) return;
  Staging staging;
  const size_t labels_at = staging.add(labels, rows);
  const auto* device_labels = reinterpret_cast<const int32_t*>(staging.upload() + labels_at);
  for_each_index(
      rows * cols,
      [=] __device__(int64_t i) {
        const float d = scale * probs[i];
        dlogits[i] = i % cols == device_labels[i / cols] ? d - scale : d;
      },
      "softmax_cross_entropy_backward");
}

double CudaBackend::squared_error(const float* pred, const float* target, int64_t n, float* diff) {
  if (n == 0) return 0.0;
  const unsigned blocks = std::min(cuda::blocks_for(n), 256u);
  Staging staging;
  const size_t partial_at = staging.reserve(blocks * sizeof(double));
  auto* partial = reinterpret_cast<double*>(staging.upload() + partial_at);
  squared_error_kernel<<<blocks, kThreadsPerBlock, 0, cuda::stream()>>>(pred, target, n, diff,
                                                                        partial);
  KRILL_CUDA_CHECK_LAUNCH("squared_error");
  return sum_partials(partial, 1, blocks)[0];
}

int64_t CudaBackend::count_correct(const float* scores, const int32_t* labels, int64_t rows,
                                   int64_t cols) {
  int64_t correct = 0;
  count_correct_batched(scores, labels, 1, rows, cols, &correct);
  return correct;
}

void CudaBackend::count_correct_batched(const float* scores, const int32_t* labels, int64_t members,
                                        int64_t rows, int64_t cols, int64_t* correct) {
  if (members == 0) return;
  if (members > kMaxGridY) {
    Backend::count_correct_batched(scores, labels, members, rows, cols, correct);
    return;
  }
  const RowReduction staged = stage_row_reduction(labels, members, rows);
  count_correct_kernel<<<dim3(staged.blocks, static_cast<unsigned>(members)), kThreadsPerBlock, 0,
                         cuda::stream()>>>(scores, staged.labels, rows, cols, staged.partial);
  KRILL_CUDA_CHECK_LAUNCH("count_correct");
  const std::vector<double> totals = sum_partials(staged.partial, members, staged.blocks);
  for (int64_t p = 0; p < members; ++p) correct[p] = static_cast<int64_t>(totals[p]);
}

void CudaBackend::sgd_update(float* w, const float* grad, float* velocity, int64_t n, float lr,
                             float momentum, float weight_decay, bool nesterov) {
  sgd_update_batched(w, grad, velocity, 1, n, &lr, &momentum, &weight_decay, nesterov);
}

// PyTorch's SGD (cpu_backend.cpp): g = grad + wd w; v = mu v + g; w -= lr (nesterov ? g + mu v :
// v), v untouched where mu == 0.
void CudaBackend::sgd_update_batched(float* w, const float* grad, float* velocity, int64_t members,
                                     int64_t n, const float* lr, const float* momentum,
                                     const float* weight_decay, bool nesterov) {
  if (members == 0 || n == 0) return;
  Staging staging;
  const size_t lr_at = staging.add(lr, members);
  const size_t momentum_at = staging.add(momentum, members);
  const size_t decay_at = staging.add(weight_decay, members);
  char* block = staging.upload();
  const auto* rates = reinterpret_cast<const float*>(block + lr_at);
  const auto* momenta = reinterpret_cast<const float*>(block + momentum_at);
  const auto* decays = reinterpret_cast<const float*>(block + decay_at);
  for_each_index(
      members * n,
      [=] __device__(int64_t i) {
        const int64_t p = i / n;
        const float mu = momenta[p];
        const float g = grad[i] + decays[p] * w[i];
        if (mu == 0.0f) {
          w[i] -= rates[p] * g;
          return;
        }
        velocity[i] = mu * velocity[i] + g;
        w[i] -= rates[p] * (nesterov ? g + mu * velocity[i] : velocity[i]);
      },
      "sgd_update");
}

void CudaBackend::adam_update(float* w, const float* grad, float* m, float* v, int64_t n,
                              const AdamStep& step) {
  adam_update_batched(w, grad, m, v, 1, n, step, &step.lr, &step.weight_decay);
}

// torch.optim.Adam (cpu_backend.cpp): the step size lr / bc1 and 1 / sqrt(bc2) rounded to float
// as the CPU rounds them.
void CudaBackend::adam_update_batched(float* w, const float* grad, float* m, float* v,
                                      int64_t members, int64_t n, const AdamStep& step,
                                      const float* lr, const float* weight_decay) {
  if (members == 0 || n == 0) return;
  Staging staging;
  const size_t lr_at = staging.add(lr, members);
  const size_t decay_at = staging.add(weight_decay, members);
  char* block = staging.upload();
  const auto* rates = reinterpret_cast<const float*>(block + lr_at);
  const auto* decays = reinterpret_cast<const float*>(block + decay_at);
  const AdamStep s = step;
  const float inv_sqrt_bc2 = 1.0f / std::sqrt(s.bias_correction2);
  for_each_index(
      members * n,
      [=] __device__(int64_t i) {
        const int64_t p = i / n;
        const float step_size = rates[p] / s.bias_correction1;
        const float g = grad[i] + decays[p] * w[i];
        m[i] = s.beta1 * m[i] + s.one_minus_beta1 * g;
        v[i] = s.beta2 * v[i] + s.one_minus_beta2 * g * g;
        w[i] -= step_size * m[i] / (sqrtf(v[i]) * inv_sqrt_bc2 + s.eps);
      },
      "adam_update");
}

}  // namespace krill::backend
