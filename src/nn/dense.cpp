#include "nn/dense.hpp"

#include "backend/backend.hpp"
#include "core/error.hpp"

namespace krill::nn {

using backend::Transpose;

Dense::Dense(int64_t in_features, int64_t out_features, Init init) : init_(init) {
  if (in_features <= 0 || out_features <= 0) {
    throw InvalidArgument("Dense: features must be positive, got " + std::to_string(in_features) +
                          " -> " + std::to_string(out_features));
  }
  weight_ = {"weight", Tensor({out_features, in_features}), Tensor({out_features, in_features})};
  bias_ = {"bias", Tensor({out_features}), Tensor({out_features})};
  Rng rng(0);
  reset(rng);
}

void Dense::reset(Rng& rng) {
  initialize(init_, weight_.value, bias_.value, rng);
}

std::string Dense::describe() const {
  return "Dense(" + std::to_string(in_features()) + " -> " + std::to_string(out_features()) + ")";
}

// x [B, in] -> y [B, out]:  y = b (broadcast);  y += x W^T
const Tensor& Dense::forward(const Tensor& x, Mode) {
  const int64_t in = in_features(), out = out_features();
  check_batch(describe(), x, in);
  check_device(describe(), x, weight_.value);
  const int64_t batch = x.dim(0);
  input_ = &x;
  output_.resize({batch, out}, x.device());
  auto& be = backend::backend(x.device());
  be.broadcast_rows(bias_.value.data(), batch, out, output_.data());
  be.gemm(Transpose::No, Transpose::Yes, batch, out, in, 1.0f, x.data(), in, weight_.value.data(),
          in, 1.0f, output_.data(), out);
  return output_;
}

// dy [B, out]:  dW [out, in] = dy^T x;  db = sum_rows dy;  dx [B, in] = dy W
const Tensor& Dense::backward(const Tensor& dy) {
  if (!input_) throw Error(describe() + ": backward called before forward");
  const int64_t in = in_features(), out = out_features(), batch = dy.dim(0);
  const Tensor& x = *input_;
  auto& be = backend::backend(dy.device());
  be.gemm(Transpose::Yes, Transpose::No, out, in, batch, 1.0f, dy.data(), out, x.data(), in, 0.0f,
          weight_.grad.data(), in);
  be.column_sums(dy.data(), batch, out, 0.0f, bias_.grad.data());
  if (!needs_input_grad_) {
    grad_input_.resize({0}, dy.device());
    return grad_input_;
  }
  grad_input_.resize({batch, in}, dy.device());
  be.gemm(Transpose::No, Transpose::No, batch, in, out, 1.0f, dy.data(), out, weight_.value.data(),
          in, 0.0f, grad_input_.data(), in);
  return grad_input_;
}

}  // namespace krill::nn
