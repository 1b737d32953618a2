#include "tune/params.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "core/error.hpp"
#include "nn/model_spec.hpp"

namespace krill::tune {

namespace {

constexpr std::array<std::string_view, 2> kOptimizers{"sgd", "adam"};
constexpr std::array<std::string_view, 4> kSchedules{"constant", "step", "exp", "cosine"};
constexpr std::array<std::string_view, 3> kActivations{"relu", "sigmoid", "tanh"};
constexpr std::array<std::string_view, 3> kInits{"he", "glorot", "torch"};
constexpr double kNone = ParamInfo::kNone;

struct Bounds {
  double min = -kNone;
  double max = kNone;
  bool min_open = false;
  bool max_open = false;
};

constexpr ParamInfo number(const char* name, ParamKind kind, const char* section, const char* help,
                           Bounds b) {
  return {name, kind, section, help, b.min, b.max, b.min_open, b.max_open, {}};
}
constexpr ParamInfo text(const char* name, const char* section, const char* help,
                         std::span<const std::string_view> names) {
  return {name, ParamKind::String, section, help, -kNone, kNone, false, false, names};
}

constexpr auto kFloat = ParamKind::Float;
constexpr auto kInt = ParamKind::Int;

// The rules a trial applies, besides what the optimizer, the schedule and the trainer check
// themselves (the same ranges, except lr > 0, stricter than the optimizers' lr >= 0, and
// eval_every >= 1: 0, "each epoch", is what leaving it out means).
constexpr std::array<ParamInfo, 22> kParams{{
    number("lr", kFloat, "training", "initial learning rate", {.min = 0, .min_open = true}),
    number("momentum", kFloat, "training", "SGD momentum", {.min = 0, .max = 1, .max_open = true}),
    number("weight_decay", kFloat, "training", "L2 weight decay", {.min = 0}),
    number("nesterov", kInt, "training", "1 for Nesterov momentum, 0 without",
           {.min = 0, .max = 1}),
    text("optimizer", "training", "the optimizer", kOptimizers),
    number("batch", kInt, "training", "batch size", {.min = 1}),
    number("epochs", kInt, "training", "epochs (unless iterations is set)", {.min = 1}),
    number("iterations", kInt, "training", "training steps (overrides epochs when > 0)",
           {.min = 0}),
    number("eval_every", kInt, "training", "a learning-curve point every N iterations", {.min = 1}),
    text("schedule", "training", "the learning-rate schedule", kSchedules),
    number("decay_every", kInt, "training", "step schedule: iterations between decays", {.min = 1}),
    number("decay_factor", kFloat, "training", "step schedule: factor per decay",
           {.min = 0, .max = 1, .min_open = true}),
    number("gamma", kFloat, "training", "exp schedule: factor per iteration",
           {.min = 0, .max = 1, .min_open = true}),
    number("warmup", kInt, "training", "cosine schedule: warm-up iterations", {.min = 0}),
    number("min_factor", kFloat, "training", "cosine schedule: final rate / initial rate",
           {.min = 0, .max = 1}),
    text("layers", "model",
         "the network as a list of layers, e.g. \"conv:32:5,relu,maxpool:2,flatten,dense:10\", "
         "or mlp:W1,W2,... or linear; {name} takes a parameter's value, [ ] makes layers optional",
         {}),
    text("hidden", "model", "hidden widths, e.g. \"512,256\" (or use width+depth)", {}),
    number("width", kInt, "model", "width of every hidden layer (with depth)",
           {.min = 1, .max = static_cast<double>(nn::kMaxWidth)}),
    number("depth", kInt, "model", "number of hidden layers (with width)", {.min = 0, .max = 64}),
    text("activation", "model", "activation", kActivations),
    number("dropout", kFloat, "model", "dropout after each hidden layer",
           {.min = 0, .max = 1, .max_open = true}),
    text("init", "model", "weight initialisation", kInits),
}};

// 1 -> "1", 0.5 -> "0.5", 1048576 -> "1048576".
std::string number_text(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<int64_t>(v));
  char buffer[64];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, v);
  return std::string(buffer, ec == std::errc{} ? end : buffer);
}

std::string one_of(std::span<const std::string_view> names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
    out += names[i];
  }
  return out;
}

bool in_range(const ParamInfo& p, double v) {
  if (!std::isfinite(v)) return false;
  const bool above_min = p.min_open ? v > p.min : v >= p.min;
  const bool below_max = p.max_open ? v < p.max : v <= p.max;
  return above_min && below_max;
}

bool width_allowed(int64_t w) {
  return w >= 1 && w <= nn::kMaxWidth;
}

}  // namespace

std::span<const ParamInfo> training_params() {
  return kParams;
}

const ParamInfo* find_training_param(const std::string& name) {
  for (const auto& p : kParams) {
    if (name == p.name) return &p;
  }
  return nullptr;
}

std::string expected_value(const ParamInfo& p) {
  if (std::string_view(p.name) == "layers") {
    return "a model such as \"conv:32:5,relu,maxpool:2,flatten,dense:10\" or \"mlp:512,256\"";
  }
  if (p.kind == ParamKind::String) {
    if (!p.names.empty()) return one_of(p.names);
    if (std::string_view(p.name) != "hidden") return "a text";
    return "widths from 1 to " + std::to_string(nn::kMaxWidth) +
           ", such as \"512,256\" or [512, 256]";  // hidden
  }
  const bool integer = p.kind == ParamKind::Int;
  const std::string what = integer ? "an integer" : "a number";
  const bool has_min = p.min != -kNone, has_max = p.max != kNone;
  if (integer && p.min == 0 && p.max == 1) return "0 or 1";
  if (has_min && has_max) {
    if (integer) return what + " from " + number_text(p.min) + " to " + number_text(p.max);
    return what + " in " + (p.min_open ? "(" : "[") + number_text(p.min) + ", " +
           number_text(p.max) + (p.max_open ? ")" : "]");
  }
  if (has_min) return what + (p.min_open ? " > " : " >= ") + number_text(p.min);
  if (has_max) return what + (p.max_open ? " < " : " <= ") + number_text(p.max);
  return what;
}

bool allowed(const ParamInfo& p, const hpo::ParamValue& value) {
  if (std::string_view(p.name) == "layers") {
    // Any text here: the model parser (and the template's) say precisely what is wrong with one.
    return std::holds_alternative<std::string>(value);
  }
  if (p.kind == ParamKind::String) {
    const auto* text = std::get_if<std::string>(&value);
    const bool hidden = std::string_view(p.name) == "hidden";
    if (!text && hidden) {  // one layer's width as a number (`hidden: 512`)
      const auto* width = std::get_if<int64_t>(&value);
      return width && width_allowed(*width);
    }
    if (!text) return false;
    if (!p.names.empty()) {
      for (const auto& name : p.names) {
        if (*text == name) return true;
      }
      return false;
    }
    if (!hidden) return true;                 // a text parameter of a study's own
    const auto widths = parse_widths(*text);  // hidden
    if (!widths) return false;
    for (const int64_t w : *widths) {
      if (!width_allowed(w)) return false;
    }
    return true;
  }
  if (const auto* i = std::get_if<int64_t>(&value)) return in_range(p, static_cast<double>(*i));
  const auto* d = std::get_if<double>(&value);
  if (!d) return false;
  if (p.kind == ParamKind::Int && *d != std::floor(*d)) return false;
  return in_range(p, *d);
}

void require_allowed(const std::string& name, const hpo::ParamValue& value,
                     const std::string& label) {
  const ParamInfo* info = find_training_param(name);
  if (!info) throw InvalidArgument("'" + name + "' is not a training parameter");
  if (!allowed(*info, value)) {
    // Appended piece by piece: `"literal" + std::string&&` trips GCC 12's -Wrestrict.
    std::string message = label;
    if (label.empty()) message.append("parameter '").append(name).append("'");
    const bool text = std::holds_alternative<std::string>(value);
    message.append(" is ").append(text ? "'" : "").append(hpo::to_string(value));
    message.append(text ? "'" : "").append(", expected ").append(expected_value(*info));
    throw InvalidArgument(message);
  }
}

std::optional<std::vector<int64_t>> parse_widths(std::string_view text) {
  std::vector<int64_t> out;
  while (true) {
    const size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    int64_t width = 0;
    const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), width);
    if (item.empty() || ec != std::errc{} || end != item.data() + item.size()) return std::nullopt;
    out.push_back(width);
    if (comma == std::string_view::npos) return out;
    text.remove_prefix(comma + 1);
  }
}

int64_t mlp_parameters(std::span<const int64_t> hidden, int64_t inputs, int64_t classes) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  int64_t total = 0;
  int64_t previous = inputs;
  const auto add_layer = [&](int64_t in, int64_t out) {  // out x in weights + out biases
    int64_t layer = 0;
    if (__builtin_mul_overflow(in, out, &layer) || __builtin_add_overflow(layer, out, &layer) ||
        __builtin_add_overflow(total, layer, &total)) {
      total = kMax;
    }
  };
  for (const int64_t width : hidden) {
    if (total < kMax) add_layer(previous, width);
    previous = width;
  }
  if (total < kMax) add_layer(previous, classes);
  return total;
}

std::string model_size_problem(std::span<const int64_t> hidden, int64_t inputs, int64_t classes) {
  return model_size_problem(mlp_parameters(hidden, inputs, classes),
                            std::to_string(inputs) + " inputs", classes);
}

std::string model_size_problem(int64_t count, const std::string& inputs, int64_t classes) {
  if (count <= kMaxModelParameters) return {};
  const double gib = 4.0 * static_cast<double>(count) / (1 << 30);
  char gib_text[32];
  std::snprintf(gib_text, sizeof gib_text, gib < 10 ? "%.1f" : "%.0f", gib);
  return "a model of " +
         (count == std::numeric_limits<int64_t>::max() ? "2^63 or more" : std::to_string(count)) +
         " parameters for " + inputs + " and " + std::to_string(classes) + " classes (" + gib_text +
         " GiB of float32 weights), expected at most " + std::to_string(kMaxModelParameters) +
         " parameters (" + std::to_string(4 * kMaxModelParameters >> 30) + " GiB)";
}

}  // namespace krill::tune
