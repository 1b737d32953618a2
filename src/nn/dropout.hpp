// Dropout (inverted): in training, each input is zeroed with probability p and the kept ones are
// scaled by 1/(1-p), so evaluation is the identity. Masks come from a seeded stream (reset()),
// whose position is the module's state: a run resumed from a checkpoint draws the same masks.
#pragma once

#include "nn/module.hpp"

namespace krill::nn {

class Dropout final : public Module {
 public:
  explicit Dropout(float p);  // p in [0, 1)
  const Tensor& forward(const Tensor& x, Mode mode) override;
  const Tensor& backward(const Tensor& grad_output) override;
  std::string describe() const override;
  void reset(Rng& rng) override { rng_ = Rng(rng.next_u64()); }
  void save_state(BinaryWriter& out) const override { rng_.save(out); }
  void load_state(BinaryReader& in) override { rng_.load(in); }
  void save_streams(BinaryWriter& out) const override { rng_.save(out); }
  void load_streams(BinaryReader& in) override { rng_.load(in); }
  float p() const { return p_; }

 private:
  float p_;
  Rng rng_{0};
  bool last_was_train_ = false;
  Tensor output_;
  Tensor mask_;
  Tensor grad_input_;
};

}  // namespace krill::nn
