// Dense (fully connected): y[B, out] = x[B, in] W^T + b, with W [out, in] (PyTorch's layout).
#pragma once

#include "nn/init.hpp"
#include "nn/module.hpp"

namespace krill::nn {

class Dense final : public Module {
 public:
  Dense(int64_t in_features, int64_t out_features, Init init = Init::He);

  const Tensor& forward(const Tensor& x, Mode mode) override;
  const Tensor& backward(const Tensor& grad_output) override;
  std::vector<Parameter*> parameters() override { return {&weight_, &bias_}; }
  std::string describe() const override;
  void reset(Rng& rng) override;

  int64_t in_features() const { return weight_.value.dim(1); }
  int64_t out_features() const { return weight_.value.dim(0); }
  Parameter& weight() { return weight_; }
  Parameter& bias() { return bias_; }
  void set_init(Init init) { init_ = init; }

 private:
  Parameter weight_;
  Parameter bias_;
  Init init_;
  const Tensor* input_ = nullptr;
  Tensor output_;
  Tensor grad_input_;
};

}  // namespace krill::nn
