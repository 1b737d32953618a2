#include "nn/model_spec.hpp"

#include <charconv>

#include "core/error.hpp"
#include "nn/dense.hpp"
#include "nn/dropout.hpp"

namespace krill::nn {

namespace {
[[noreturn]] void bad_spec(std::string_view spec, const std::string& why) {
  throw InvalidArgument("model spec '" + std::string(spec) + "': " + why +
                        " (expected mlp:W1,W2,... with positive widths, e.g. mlp:512,256, or "
                        "linear)");
}
}  // namespace

std::string ModelSpec::to_string() const {
  if (hidden.empty()) return "linear";
  std::string s = "mlp:";
  for (size_t i = 0; i < hidden.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(hidden[i]);
  }
  return s;
}

ModelSpec parse_model_spec(std::string_view spec) {
  ModelSpec out;
  if (spec == "linear") return out;
  if (spec.starts_with("cnn") || spec.starts_with("conv")) {
    bad_spec(spec, "convolutional models are not available yet");
  }
  if (!spec.starts_with("mlp:")) bad_spec(spec, "unknown model kind");
  std::string_view rest = spec.substr(4);
  if (rest.empty()) bad_spec(spec, "no hidden widths");
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    int64_t width = 0;
    auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), width);
    if (ec != std::errc() || ptr != item.data() + item.size() || item.empty()) {
      bad_spec(spec, "'" + std::string(item) + "' is not a width");
    }
    if (width <= 0 || width > kMaxWidth) {
      bad_spec(spec, "width " + std::to_string(width) + " is out of range [1, " +
                         std::to_string(kMaxWidth) + "]");
    }
    out.hidden.push_back(width);
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
    if (rest.empty()) bad_spec(spec, "trailing comma");
  }
  return out;
}

std::unique_ptr<Sequential> build_model(const ModelSpec& spec, int64_t inputs, int classes,
                                        uint64_t seed) {
  if (inputs <= 0 || classes <= 1) {
    throw InvalidArgument("build_model: need inputs > 0 and at least 2 classes, got " +
                          std::to_string(inputs) + " and " + std::to_string(classes));
  }
  const Init init =
      spec.init.value_or(spec.activation == Activation::Relu ? Init::He : Init::Glorot);
  auto net = std::make_unique<Sequential>();
  int64_t prev = inputs;
  for (int64_t width : spec.hidden) {
    net->add(std::make_unique<Dense>(prev, width, init));
    net->add(std::make_unique<ActivationLayer>(spec.activation));
    if (spec.dropout > 0.0f) net->add(std::make_unique<Dropout>(spec.dropout));
    prev = width;
  }
  // The output layer feeds a softmax: Glorot unless the user chose PyTorch's default.
  net->add(std::make_unique<Dense>(prev, classes,
                                   init == Init::FanInUniform ? Init::FanInUniform : Init::Glorot));
  Rng rng(seed);
  net->reset(rng);
  return net;
}

}  // namespace krill::nn
