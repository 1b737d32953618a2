// Adam (Kingma & Ba 2015) with the semantics of torch.optim.Adam: bias-corrected moments and L2
// weight decay added to the gradient.
#pragma once

#include "optim/optimizer.hpp"

namespace krill::optim {

struct AdamOptions {
  double lr = 0.001;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
};

class Adam final : public Optimizer {
 public:
  // Throws InvalidArgument for lr < 0, betas outside [0, 1), eps <= 0, weight_decay < 0.
  Adam(std::vector<nn::Parameter*> params, AdamOptions options);
  void step() override;
  std::string name() const override { return "adam"; }
  const AdamOptions& options() const { return options_; }
  void set_options(const AdamOptions& options);  // mid-run (PBT); validated as by the constructor
  std::vector<Tensor*> buffers(size_t i) override { return {&m_.at(i), &v_.at(i)}; }

 private:
  void save_buffers(BinaryWriter& out) const override;
  void load_buffers(BinaryReader& in) override;

  AdamOptions options_;
  std::vector<Tensor> m_, v_;
};

}  // namespace krill::optim
