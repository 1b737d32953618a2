// Module: a layer with a forward and a backward pass over batches (rows = samples). A module owns
// its output and input-gradient buffers and reuses them step after step (no allocation once the
// batch size is stable), in the style of llm.c's <layer>_forward / <layer>_backward pairs.
//
// Contract:
//  - forward(x) returns the output, valid until the next forward; x must stay alive and unchanged
//    until backward (modules keep a pointer to it, not a copy).
//  - backward(dy) takes dL/d(output of the last forward), *overwrites* the gradients of the
//    module's parameters (no zero_grad needed) and returns dL/dx, or an empty tensor when
//    set_needs_input_grad(false) (the first layer of a network: saves a GEMM per step).
//
// Images: every tensor between modules is a matrix with one row per sample. A batch of images is
// [N, C*H*W], each row one image in C, H, W order (PyTorch's NCHW, flattened per sample). Image
// layers (Conv2d, MaxPool2d, AvgPool2d, BatchNorm on images, Flatten) are given their input's
// [C, H, W] (ImageShape) at construction and report output_shape(), from which a model builder
// infers the next layer's.
// Element-wise layers (activations, dropout) work on images unchanged.
//
// State: what a module changes in training besides its parameters (batch norm's running
// statistics, dropout's mask stream) is saved and loaded with save_state/load_state, so that a
// checkpoint holds everything a resumed run needs to continue exactly as the uninterrupted one.
#pragma once

#include <string>
#include <vector>

#include "core/rng.hpp"
#include "core/serialize.hpp"
#include "core/tensor.hpp"
#include "nn/parameter.hpp"

namespace krill::nn {

enum class Mode { Train, Eval };

class Module {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  Module(Module&&) = default;
  Module& operator=(Module&&) = default;

  virtual const Tensor& forward(const Tensor& x, Mode mode) = 0;
  virtual const Tensor& backward(const Tensor& grad_output) = 0;
  virtual std::vector<Parameter*> parameters() { return {}; }
  virtual std::string describe() const = 0;  // "Dense(784 -> 512)"
  // Draws initial parameters (and, for dropout, the mask stream) from rng.
  virtual void reset(Rng& rng) { (void)rng; }

  // Non-parameter state, written by save_state and read back by load_state (which throws
  // DataError naming the field when the bytes do not fit this module). None by default.
  virtual void save_state(BinaryWriter& out) const { (void)out; }
  virtual void load_state(BinaryReader& in) { (void)in; }
  // Whether the module cannot do without its state when a checkpoint has none (an older format):
  // batch norm's running statistics are the model; dropout merely draws other masks.
  virtual bool requires_state() const { return false; }
  // The part of the state that is a random stream (dropout's masks). A PBT exploit copies a
  // donor's weights, statistics and optimizer state, but the recipient keeps drawing from its own
  // streams (as each PyTorch process keeps its own generator): saved before the copy with
  // save_streams, put back after it with load_streams. None by default.
  virtual void save_streams(BinaryWriter& out) const { (void)out; }
  virtual void load_streams(BinaryReader& in) { (void)in; }

  // Moves the parameters, their gradients and the state to `device` (PyTorch's module.to):
  // models are built and initialised on the host and moved once, before an optimizer is made for
  // them. Buffers that follow the input (outputs, gradients, masks) move by themselves at the next
  // forward. The default moves parameters(); modules with state override it.
  virtual void to(Device device);

  virtual void set_needs_input_grad(bool needed) { needs_input_grad_ = needed; }
  bool needs_input_grad() const { return needs_input_grad_; }

 protected:
  bool needs_input_grad_ = true;
};

// Throws ShapeError "<who>: input [..], expected [batch, <features>]" unless `x` is a batch of
// rows of `features` values: every layer's forward checks its input so.
void check_batch(const std::string& who, const Tensor& x, int64_t features);
// Throws Error "<who>: input on cpu, parameters on cuda (move the model with to(), the batch
// with Tensor::copy_from)" unless both are on one device.
void check_device(const std::string& who, const Tensor& x, const Tensor& parameter);

}  // namespace krill::nn
