// SGD with optional momentum, Nesterov momentum and L2 weight decay, with the semantics of
// torch.optim.SGD (dampening 0): g = grad + wd*w; v = mu*v + g; w -= lr*(nesterov ? g + mu*v : v).
#pragma once

#include "optim/optimizer.hpp"

namespace krill::optim {

struct SgdOptions {
  double lr = 0.01;
  double momentum = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
};

class Sgd final : public Optimizer {
 public:
  // Throws InvalidArgument for lr < 0, momentum outside [0, 1), weight_decay < 0, or nesterov
  // without momentum.
  Sgd(std::vector<nn::Parameter*> params, SgdOptions options);
  void step() override;
  std::string name() const override { return "sgd"; }
  const SgdOptions& options() const { return options_; }
  // New options mid-run (PBT); validated as by the constructor. Momentum buffers start at zero
  // when momentum becomes > 0 and go when it becomes 0.
  void set_options(const SgdOptions& options);
  std::vector<Tensor*> buffers(size_t i) override;

 private:
  void save_buffers(BinaryWriter& out) const override;
  void load_buffers(BinaryReader& in) override;

  SgdOptions options_;
  std::vector<Tensor> velocity_;  // one per parameter, when momentum > 0
};

}  // namespace krill::optim
