// Optimizer: updates a model's parameters from their gradients. It holds the current learning
// rate (a schedule or PBT changes it between steps with set_lr) and its own state (momentum,
// Adam moments), which a checkpoint saves and loads so that a copied member resumes exactly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/serialize.hpp"
#include "nn/parameter.hpp"

namespace krill::optim {

class Optimizer {
 public:
  Optimizer(std::vector<nn::Parameter*> params, double lr);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter with the current learning rate; then steps() grows by one.
  virtual void step() = 0;
  void zero_grad();

  double lr() const { return lr_; }
  void set_lr(double lr);  // throws InvalidArgument for lr < 0 or not finite
  int64_t steps() const { return steps_; }
  virtual std::string name() const = 0;  // "sgd", "adam": checked when state is loaded

  // State (steps, buffers; not the parameters themselves). load_state throws DataError when the
  // bytes are of another optimizer or of parameters of other shapes.
  void save_state(BinaryWriter& out) const;
  void load_state(BinaryReader& in);

  // The state tensors of parameter i's update, in order (SGD: its velocity when momentum > 0,
  // else none; Adam: its first and second moments), and the step count: for code that keeps the
  // same state in another layout (train/population.hpp moves it between a population's slices and
  // a solo optimizer).
  virtual std::vector<Tensor*> buffers(size_t i) = 0;
  void set_steps(int64_t steps);  // throws InvalidArgument for steps < 0

 protected:
  virtual void save_buffers(BinaryWriter& out) const = 0;
  virtual void load_buffers(BinaryReader& in) = 0;

  std::vector<nn::Parameter*> params_;
  double lr_;
  int64_t steps_ = 0;
};

}  // namespace krill::optim
