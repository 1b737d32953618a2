// Sequential: modules applied one after the other. Parameters are named "<index>.<name>"
// ("0.weight"), which checkpoints use to match tensors; the modules' states are saved in order.
#pragma once

#include <concepts>
#include <memory>
#include <utility>
#include <vector>

#include "nn/module.hpp"

namespace krill::nn {

class Sequential final : public Module {
 public:
  // A top-level network needs no gradient for its input (the data), nor do its modules up to and
  // including the first with parameters; nest with set_needs_input_grad(true).
  Sequential() { needs_input_grad_ = false; }
  template <std::derived_from<Module>... M>
  explicit Sequential(M&&... modules) : Sequential() {
    (add(std::make_unique<std::decay_t<M>>(std::move(modules))), ...);
  }

  void add(std::unique_ptr<Module> module);
  const Tensor& forward(const Tensor& x, Mode mode) override;
  const Tensor& backward(const Tensor& grad_output) override;
  std::vector<Parameter*> parameters() override;
  std::string describe() const override;  // one line per module
  void reset(Rng& rng) override;
  void set_needs_input_grad(bool needed) override;
  void to(Device device) override;  // every module's
  // The modules' states in order, each as u64 size + bytes: a module whose state does not fit is
  // named in the error.
  void save_state(BinaryWriter& out) const override;
  void load_state(BinaryReader& in) override;
  bool requires_state() const override;
  // The modules' streams in order (modules without one write nothing).
  void save_streams(BinaryWriter& out) const override;
  void load_streams(BinaryReader& in) override;

  size_t size() const { return modules_.size(); }
  Module& operator[](size_t i) { return *modules_[i]; }
  int64_t parameter_count();

 private:
  void update_input_grads();
  std::vector<std::unique_ptr<Module>> modules_;
};

}  // namespace krill::nn
