#include "nn/model_spec.hpp"

#include <charconv>
#include <cmath>
#include <limits>

#include "core/error.hpp"
#include "nn/batch_norm.hpp"
#include "nn/conv2d.hpp"
#include "nn/dense.hpp"
#include "nn/dropout.hpp"
#include "nn/pool2d.hpp"

namespace krill::nn {

namespace {

constexpr std::string_view kForms =
    "a list of layers such as conv:32:5,relu,maxpool:2,flatten,dense:10 (dense:N, "
    "conv:FILTERS:KERNEL[:STRIDE[:PADDING]], maxpool:K[:STRIDE], avgpool:K[:STRIDE], flatten, "
    "batchnorm, dropout:P, relu, sigmoid, tanh), or mlp:W1,W2,... or linear";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    const size_t at = s.find(sep);
    out.push_back(trim(s.substr(0, at)));
    if (at == std::string_view::npos) return out;
    s.remove_prefix(at + 1);
  }
}

[[noreturn]] void bad_spec(std::string_view spec, const std::string& why) {
  throw InvalidArgument("model '" + std::string(spec) + "': " + why + ", expected " +
                        std::string(kForms));
}

std::string layer_name(size_t index, std::string_view text) {
  return "layer " + std::to_string(index + 1) + " '" + std::string(text) + "'";
}

int64_t saturating_mul(int64_t a, int64_t b) {
  int64_t out = 0;
  return __builtin_mul_overflow(a, b, &out) ? std::numeric_limits<int64_t>::max() : out;
}
int64_t saturating_add(int64_t a, int64_t b) {
  int64_t out = 0;
  return __builtin_add_overflow(a, b, &out) ? std::numeric_limits<int64_t>::max() : out;
}

std::string number_text(double v) {
  char buffer[32];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, v);
  return std::string(buffer, ec == std::errc{} ? end : buffer);
}

// Parses one layer, `fields` being its text split at ':'; throws InvalidArgument (bad_spec).
LayerSpec parse_layer(std::string_view spec, size_t index, std::string_view text,
                      const std::vector<std::string_view>& fields) {
  const std::string where = layer_name(index, text);
  const std::string_view kind = fields[0];
  const size_t args = fields.size() - 1;
  // The i-th argument as an integer in [min, max].
  const auto integer = [&](size_t i, const char* what, int64_t min, int64_t max) {
    const std::string_view f = fields[i];
    int64_t v = 0;
    const auto [end, ec] = std::from_chars(f.data(), f.data() + f.size(), v);
    if (f.empty() || ec != std::errc() || end != f.data() + f.size()) {
      bad_spec(spec, where + ": " + what + " '" + std::string(f) + "' is not an integer");
    }
    if (v < min || v > max) {
      bad_spec(spec, where + ": " + what + " " + std::to_string(v) + " is outside [" +
                         std::to_string(min) + ", " + std::to_string(max) + "]");
    }
    return v;
  };
  const auto arity = [&](size_t least, size_t most, const char* form) {
    if (args < least || args > most) {
      bad_spec(spec, where + " takes " + form + " (" + std::to_string(args) +
                         (args == 1 ? " argument" : " arguments") + " given)");
    }
  };
  LayerSpec l;
  if (kind == "dense") {
    arity(1, 1, "dense:N");
    l.kind = LayerKind::Dense;
    l.size = integer(1, "width", 1, kMaxWidth);
  } else if (kind == "conv") {
    arity(2, 4, "conv:FILTERS:KERNEL[:STRIDE[:PADDING]]");
    l.kind = LayerKind::Conv;
    l.size = integer(1, "filters", 1, kMaxWidth);
    l.kernel = integer(2, "kernel", 1, 1024);
    l.stride = args >= 3 ? integer(3, "stride", 1, 1024) : 1;
    l.padding = args >= 4 ? integer(4, "padding", 0, 1024) : 0;
  } else if (kind == "maxpool" || kind == "avgpool") {
    arity(1, 2, kind == "maxpool" ? "maxpool:K[:STRIDE]" : "avgpool:K[:STRIDE]");
    l.kind = kind == "maxpool" ? LayerKind::MaxPool : LayerKind::AvgPool;
    l.kernel = integer(1, "window", 1, 1024);
    l.stride = args >= 2 ? integer(2, "stride", 1, 1024) : l.kernel;
  } else if (kind == "dropout") {
    arity(1, 1, "dropout:P");
    const std::string_view f = fields[1];
    double p = 0;
    const auto [end, ec] = std::from_chars(f.data(), f.data() + f.size(), p);
    if (f.empty() || ec != std::errc() || end != f.data() + f.size() || !(p >= 0 && p < 1)) {
      bad_spec(spec, where + ": the rate '" + std::string(f) + "' is not a number in [0, 1)");
    }
    l.kind = LayerKind::Dropout;
    l.p = static_cast<float>(p);
  } else if (kind == "flatten" || kind == "batchnorm" || kind == "relu" || kind == "sigmoid" ||
             kind == "tanh") {
    arity(0, 0, (std::string(kind) + " alone").c_str());
    if (kind == "flatten") {
      l.kind = LayerKind::Flatten;
    } else if (kind == "batchnorm") {
      l.kind = LayerKind::BatchNorm;
    } else {
      l.kind = LayerKind::Activation;
      l.activation = parse_activation(kind);
    }
  } else {
    bad_spec(spec, where + " is not a layer");
  }
  return l;
}

ModelSpec parse_shorthand(std::string_view spec) {
  ModelSpec out;
  if (spec == "linear") return out;
  std::string_view rest = trim(spec.substr(4));
  if (rest.empty()) bad_spec(spec, "mlp: without hidden widths");
  for (const std::string_view item : split(rest, ',')) {
    int64_t width = 0;
    auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), width);
    if (item.empty()) bad_spec(spec, "an empty width (two commas, or one at an end)");
    if (ec != std::errc() || ptr != item.data() + item.size()) {
      std::string why = "'";
      why.append(item).append("' is not a width");
      bad_spec(spec, why);
    }
    if (width <= 0 || width > kMaxWidth) {
      bad_spec(spec, "width " + std::to_string(width) + " is out of range [1, " +
                         std::to_string(kMaxWidth) + "]");
    }
    out.hidden.push_back(width);
  }
  return out;
}

}  // namespace

std::string LayerSpec::to_string() const {
  switch (kind) {
    case LayerKind::Dense:
      return "dense:" + std::to_string(size);
    case LayerKind::Conv: {
      // Appended piece by piece: `"literal" + std::string&&` trips GCC 12's -Wrestrict.
      std::string s = "conv:";
      s.append(std::to_string(size)).append(":").append(std::to_string(kernel));
      if (stride != 1 || padding != 0) s.append(":").append(std::to_string(stride));
      if (padding != 0) s.append(":").append(std::to_string(padding));
      return s;
    }
    case LayerKind::MaxPool:
    case LayerKind::AvgPool: {
      std::string s = kind == LayerKind::MaxPool ? "maxpool:" : "avgpool:";
      s.append(std::to_string(kernel));
      if (stride != kernel) s.append(":").append(std::to_string(stride));
      return s;
    }
    case LayerKind::Flatten:
      return "flatten";
    case LayerKind::BatchNorm:
      return "batchnorm";
    case LayerKind::Dropout:
      return "dropout:" + number_text(p);
    case LayerKind::Activation:
      return nn::to_string(activation);
  }
  return "?";
}

std::string ModelSpec::to_string() const {
  std::string s;
  if (is_list) {
    for (const LayerSpec& l : list) s.append(s.empty() ? "" : ",").append(l.to_string());
    return s;
  }
  if (hidden.empty()) return "linear";
  s = "mlp:";
  for (size_t i = 0; i < hidden.size(); ++i)
    s.append(i ? "," : "").append(std::to_string(hidden[i]));
  return s;
}

std::vector<LayerSpec> ModelSpec::layers(int classes) const {
  if (is_list) return list;
  std::vector<LayerSpec> out{{.kind = LayerKind::Flatten}};
  for (const int64_t width : hidden) {
    out.push_back({.kind = LayerKind::Dense, .size = width});
    out.push_back({.kind = LayerKind::Activation, .activation = activation});
    if (dropout > 0.0f) out.push_back({.kind = LayerKind::Dropout, .p = dropout});
  }
  out.push_back({.kind = LayerKind::Dense, .size = classes});
  return out;
}

int ModelSpec::outputs(int classes) const {
  if (!is_list || list.empty() || list.back().kind != LayerKind::Dense) return classes;
  const int64_t n = list.back().size;
  return n > classes && n <= std::numeric_limits<int>::max() ? static_cast<int>(n) : classes;
}

ModelSpec parse_model_spec(std::string_view text) {
  const std::string_view spec = trim(text);
  if (spec == "linear" || spec.starts_with("mlp:")) return parse_shorthand(spec);
  if (spec.empty()) bad_spec(text, "no layers");
  ModelSpec out;
  out.is_list = true;
  const std::vector<std::string_view> items = split(spec, ',');
  for (size_t i = 0; i < items.size(); ++i) {
    if (items[i].empty()) bad_spec(spec, "layer " + std::to_string(i + 1) + " is empty");
    std::vector<std::string_view> fields = split(items[i], ':');
    out.list.push_back(parse_layer(spec, i, items[i], fields));
  }
  return out;
}

std::vector<LayerShape> infer_shapes(const ModelSpec& spec, ImageShape input, int classes,
                                     bool image) {
  if (input.channels <= 0 || input.height <= 0 || input.width <= 0 || classes < 2) {
    throw InvalidArgument("model for inputs " + input.to_string() + " and " +
                          std::to_string(classes) +
                          " classes: expected positive sizes and at least 2 classes");
  }
  classes = spec.outputs(classes);  // a last dense:N may cover more classes than the data has
  const std::vector<LayerSpec> layers = spec.layers(classes);
  const std::string model = spec.to_string();
  std::vector<LayerShape> out;
  bool is_image = image;
  ImageShape shape = image ? input : ImageShape{input.numel(), 1, 1};
  const auto fail = [&](size_t i, const std::string& why) {
    throw ShapeError("model '" + model + "': " + layer_name(i, layers[i].to_string()) + " " + why);
  };
  const auto got = [&] {
    return is_image ? "an image " + shape.to_string()
                    : std::to_string(shape.numel()) + " flat features";
  };
  for (size_t i = 0; i < layers.size(); ++i) {
    const LayerSpec& l = layers[i];
    LayerShape s{.layer = l, .image_in = is_image, .in = shape, .out = {}};
    switch (l.kind) {
      case LayerKind::Dense:
        if (is_image) fail(i, "takes flat features, gets " + got() + ": put flatten before it");
        s.parameters = saturating_add(saturating_mul(shape.numel(), l.size), l.size);
        shape = {l.size, 1, 1};
        break;
      case LayerKind::Conv:
      case LayerKind::MaxPool:
      case LayerKind::AvgPool: {
        if (!is_image) fail(i, "takes images, gets " + got());
        const int64_t pad = l.kind == LayerKind::Conv ? l.padding : 0;
        const int64_t h = shape.height + 2 * pad, w = shape.width + 2 * pad;
        if (l.kernel > h || l.kernel > w) {
          fail(i, "has a " + std::to_string(l.kernel) + "x" + std::to_string(l.kernel) +
                      " window, larger than its input " + shape.to_string() +
                      (pad ? " padded to " + std::to_string(h) + "x" + std::to_string(w) : ""));
        }
        const int64_t channels = l.kind == LayerKind::Conv ? l.size : shape.channels;
        if (l.kind == LayerKind::Conv) {
          s.parameters = saturating_add(
              saturating_mul(l.size, saturating_mul(shape.channels, l.kernel * l.kernel)), l.size);
        }
        shape = {channels, (h - l.kernel) / l.stride + 1, (w - l.kernel) / l.stride + 1};
        break;
      }
      case LayerKind::Flatten:
        shape = {shape.numel(), 1, 1};
        is_image = false;
        break;
      case LayerKind::BatchNorm:
        s.parameters = 2 * (is_image ? shape.channels : shape.numel());
        break;
      case LayerKind::Dropout:
      case LayerKind::Activation:
        break;
    }
    s.image_out = is_image;
    s.out = shape;
    out.push_back(s);
  }
  if (is_image || shape.numel() != classes) {
    const size_t last = layers.size() - 1;
    // The classes are the labels' (0 to the largest): one label of 255 makes 256.
    fail(last, "ends the model with " + got() + ", expected " + std::to_string(classes) +
                   " outputs, one per class of labels 0 to " + std::to_string(classes - 1) +
                   " (end with flatten and dense:" + std::to_string(classes) +
                   ", or a dense:N with more)");
  }
  return out;
}

int64_t parameter_count(const std::vector<LayerShape>& shapes) {
  int64_t n = 0;
  for (const LayerShape& s : shapes) n = saturating_add(n, s.parameters);
  return n;
}

namespace {

std::unique_ptr<Sequential> build(const ModelSpec& spec, ImageShape input, int classes,
                                  uint64_t seed, bool image) {
  const std::vector<LayerShape> shapes = infer_shapes(spec, input, classes, image);
  // Initialisation: the user's choice for every weighted layer but the last, which feeds the
  // softmax and takes Glorot (unless the choice is PyTorch's default). Without a choice, He
  // before a ReLU and Glorot otherwise: the activation that follows a layer (before the next
  // weighted layer) decides.
  size_t last_weighted = 0;
  for (size_t i = 0; i < shapes.size(); ++i) {
    const LayerKind k = shapes[i].layer.kind;
    if (k == LayerKind::Dense || k == LayerKind::Conv) last_weighted = i;
  }
  const auto init_of = [&](size_t i) {
    if (i == last_weighted) {
      return spec.init == Init::FanInUniform ? Init::FanInUniform : Init::Glorot;
    }
    if (spec.init) return *spec.init;
    for (size_t j = i + 1; j < shapes.size(); ++j) {
      const LayerSpec& next = shapes[j].layer;
      if (next.kind == LayerKind::Activation) {
        return next.activation == Activation::Relu ? Init::He : Init::Glorot;
      }
      if (next.kind == LayerKind::Dense || next.kind == LayerKind::Conv) break;
    }
    return Init::Glorot;
  };
  auto net = std::make_unique<Sequential>();
  for (size_t i = 0; i < shapes.size(); ++i) {
    const LayerShape& s = shapes[i];
    const LayerSpec& l = s.layer;
    switch (l.kind) {
      case LayerKind::Dense:
        net->add(std::make_unique<Dense>(s.in.numel(), l.size, init_of(i)));
        break;
      case LayerKind::Conv:
        net->add(std::make_unique<Conv2d>(
            s.in, l.size, l.kernel,
            Conv2dOptions{.stride = l.stride, .padding = l.padding, .init = init_of(i)}));
        break;
      case LayerKind::MaxPool:
        net->add(std::make_unique<MaxPool2d>(s.in, l.kernel, l.stride));
        break;
      case LayerKind::AvgPool:
        net->add(std::make_unique<AvgPool2d>(s.in, l.kernel, l.stride));
        break;
      case LayerKind::Flatten:
        // Shape bookkeeping only: a row is already the image's C*H*W values, so no module (which
        // also keeps the parameter names, "0.weight", of networks built before flatten existed).
        break;
      case LayerKind::BatchNorm:
        if (s.image_in) {
          net->add(std::make_unique<BatchNorm>(s.in));
        } else {
          net->add(std::make_unique<BatchNorm>(s.in.numel()));
        }
        break;
      case LayerKind::Dropout:
        net->add(std::make_unique<Dropout>(l.p));
        break;
      case LayerKind::Activation:
        net->add(std::make_unique<ActivationLayer>(l.activation));
        break;
    }
  }
  Rng rng(seed);
  net->reset(rng);
  return net;
}

}  // namespace

std::unique_ptr<Sequential> build_model(const ModelSpec& spec, ImageShape input, int classes,
                                        uint64_t seed) {
  return build(spec, input, classes, seed, true);
}

std::unique_ptr<Sequential> build_model(const ModelSpec& spec, int64_t inputs, int classes,
                                        uint64_t seed) {
  return build(spec, ImageShape{inputs, 1, 1}, classes, seed, false);
}

}  // namespace krill::nn
