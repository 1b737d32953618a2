// ModelSpec: a network described in one short string, as the command line and study files write
// it: a list of layers, or the MLP shorthand.
//
//   conv:32:5,relu,maxpool:2,conv:64:5,relu,maxpool:2,flatten,dense:10
//   mlp:512,256     784 -> 512 -> 256 -> 10, an activation (and dropout) after each hidden layer;
//   linear          softmax regression (no hidden layer)
//
// Layers (DESIGN.md, "Models as lists of layers"):
//   dense:N                    fully connected, N outputs (its input must be flat)
//   conv:F:K[:S[:P]]           F filters of K x K, stride S (1), zero padding P (0)
//   maxpool:K[:S], avgpool:K[:S]   K x K windows, stride S (K)
//   flatten                    an image [C, H, W] as C*H*W features (no module: rows already are)
//   batchnorm                  per channel on images, per feature on flat inputs
//   dropout:P                  P in [0, 1), element-wise (on images too)
//   relu, sigmoid, tanh
// Shapes are inferred from the data's [C, H, W]; the last layer must give one output per class.
// A list spec names its output layer itself (`dense:10`); the shorthand adds it for the data.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/image_shape.hpp"
#include "nn/activations.hpp"
#include "nn/init.hpp"
#include "nn/sequential.hpp"

namespace krill::nn {

// The widest dense layer (and the most filters) parse_model_spec accepts (2^20).
inline constexpr int64_t kMaxWidth = int64_t{1} << 20;

enum class LayerKind { Dense, Conv, MaxPool, AvgPool, Flatten, BatchNorm, Dropout, Activation };

struct LayerSpec {
  LayerKind kind = LayerKind::Dense;
  int64_t size = 0;                          // Dense: outputs; Conv: filters
  int64_t kernel = 0;                        // Conv, pools
  int64_t stride = 0;                        // Conv (default 1), pools (default: the kernel)
  int64_t padding = 0;                       // Conv
  float p = 0.0f;                            // Dropout
  Activation activation = Activation::Relu;  // Activation

  std::string to_string() const;  // "conv:32:5", "maxpool:2", "dropout:0.25", "relu"
  bool operator==(const LayerSpec&) const = default;
};

struct ModelSpec {
  // Written as a list of layers (`layers`), or as the shorthand mlp:W1,W2,.../linear (`hidden`,
  // `activation` and `dropout`; layers() makes the list).
  bool is_list = false;
  std::vector<LayerSpec> list;
  std::vector<int64_t> hidden;  // shorthand: widths of the hidden layers
  Activation activation = Activation::Relu;
  float dropout = 0.0f;      // shorthand: after each hidden activation, when > 0
  std::optional<Init> init;  // default per weighted layer: He before a ReLU, Glorot otherwise

  // The form parse_model_spec reads: "mlp:512,256", "linear" or the list.
  std::string to_string() const;
  // The layers of the network for `classes` outputs: the list, or the shorthand's
  // flatten, dense:W1, <activation>, [dropout:P,] ..., dense:<classes>.
  std::vector<LayerSpec> layers(int classes) const;
  // The network's outputs for data of `classes` classes: a list's last dense:N when N covers
  // them (labels below N, as PyTorch's cross-entropy takes them: a model made for MNIST's 10
  // classes trains on data of 3), else `classes` (the shorthand's, or a list that ends otherwise
  // and is refused by infer_shapes).
  int outputs(int classes) const;
};

// Throws InvalidArgument quoting the spec, naming the layer (its position and text) that is
// wrong and what was expected.
ModelSpec parse_model_spec(std::string_view spec);

// One layer of a network whose shapes are inferred: its input and output ([C, H, W], or
// [features, 1, 1] when flat) and its parameters.
struct LayerShape {
  LayerSpec layer;
  bool image_in = false, image_out = false;  // whether input/output are images (else flat)
  ImageShape in, out;
  int64_t parameters = 0;
};
// The shapes of each layer of `spec` for inputs of shape `input` and `classes` outputs, without
// allocating anything; with `image` false the inputs are input.numel() flat features. Throws
// ShapeError naming the layer ("layer 4 'conv:64:5'") whose shapes do not fit: a kernel larger
// than its (padded) input, a dense or conv layer on the wrong kind of input, a last layer without
// one output per class.
std::vector<LayerShape> infer_shapes(const ModelSpec& spec, ImageShape input, int classes,
                                     bool image = true);
// Sum of the layers' parameters (saturating at INT64_MAX).
int64_t parameter_count(const std::vector<LayerShape>& shapes);

// Builds the network for images of shape `input` and `classes` outputs, initialised from `seed`
// (infer_shapes' errors first).
std::unique_ptr<Sequential> build_model(const ModelSpec& spec, ImageShape input, int classes,
                                        uint64_t seed);
// Flat inputs: build_model(spec, {inputs, 1, 1}, classes, seed).
std::unique_ptr<Sequential> build_model(const ModelSpec& spec, int64_t inputs, int classes,
                                        uint64_t seed);

}  // namespace krill::nn
