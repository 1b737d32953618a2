#include "nn/sequential.hpp"

#include "core/error.hpp"

namespace krill::nn {

void Sequential::add(std::unique_ptr<Module> module) {
  const size_t index = modules_.size();
  for (Parameter* p : module->parameters()) p->name = std::to_string(index) + "." + p->name;
  modules_.push_back(std::move(module));
  update_input_grads();
}

void Sequential::update_input_grads() {
  // dL/dx of a module is needed when a module before it has parameters (or when this network's
  // own input gradient is): the data needs none, nor do parameter-free layers in front (a
  // flatten or dropout before the first dense layer), which saves the first layer's input GEMM.
  bool needed = needs_input_grad_;
  for (auto& m : modules_) {
    m->set_needs_input_grad(needed);
    if (!m->parameters().empty()) needed = true;
  }
}

const Tensor& Sequential::forward(const Tensor& x, Mode mode) {
  if (modules_.empty()) throw Error("Sequential::forward on an empty model");
  const Tensor* h = &x;
  for (auto& m : modules_) h = &m->forward(*h, mode);
  return *h;
}

const Tensor& Sequential::backward(const Tensor& grad_output) {
  const Tensor* g = &grad_output;
  for (size_t i = modules_.size(); i-- > 0;) {
    g = &modules_[i]->backward(*g);
    if (!modules_[i]->needs_input_grad()) break;  // nothing before it learns (update_input_grads)
  }
  return *g;
}

std::vector<Parameter*> Sequential::parameters() {
  std::vector<Parameter*> all;
  for (auto& m : modules_) {
    for (Parameter* p : m->parameters()) all.push_back(p);
  }
  return all;
}

std::string Sequential::describe() const {
  std::string s;
  for (size_t i = 0; i < modules_.size(); ++i) {
    s += std::to_string(i) + ": " + modules_[i]->describe() + "\n";
  }
  return s;
}

void Sequential::set_needs_input_grad(bool needed) {
  needs_input_grad_ = needed;
  update_input_grads();
}

void Sequential::reset(Rng& rng) {
  for (auto& m : modules_) m->reset(rng);
}

void Sequential::save_streams(BinaryWriter& out) const {
  for (const auto& m : modules_) m->save_streams(out);
}

void Sequential::load_streams(BinaryReader& in) {
  for (auto& m : modules_) m->load_streams(in);
}

void Sequential::save_state(BinaryWriter& out) const {
  out.u32(static_cast<uint32_t>(modules_.size()));
  for (const auto& m : modules_) {
    BinaryWriter state;
    m->save_state(state);
    out.u64(state.buffer().size());
    out.bytes(state.buffer());
  }
}

void Sequential::load_state(BinaryReader& in) {
  const uint32_t count = in.u32("module count");
  if (count != modules_.size()) {
    in.fail("state of " + std::to_string(count) + " modules, the model has " +
            std::to_string(modules_.size()) + " (another architecture?)");
  }
  for (size_t i = 0; i < modules_.size(); ++i) {
    const std::string who = "module " + std::to_string(i) + " (" + modules_[i]->describe() + ")";
    const uint64_t size = in.u64("module state size");
    if (size > in.remaining()) {
      in.fail("truncated: " + who + " promises " + std::to_string(size) + " bytes of state, " +
              std::to_string(in.remaining()) + " left");
    }
    BinaryReader state(in.bytes(size, "module state"), in.source() + ", " + who);
    modules_[i]->load_state(state);
    if (state.remaining() != 0) {
      state.fail(std::to_string(state.remaining()) + " bytes of state left over (another " +
                 "architecture?)");
    }
  }
}

bool Sequential::requires_state() const {
  for (const auto& m : modules_) {
    if (m->requires_state()) return true;
  }
  return false;
}

int64_t Sequential::parameter_count() {
  int64_t n = 0;
  for (Parameter* p : parameters()) n += p->value.numel();
  return n;
}

void Sequential::to(Device device) {
  for (auto& m : modules_) m->to(device);
}

}  // namespace krill::nn
