// The training parameters a study can fix or tune, by name, and the values each accepts: the
// contract between study files (fixed values under `model:`/`training:`, dimensions under
// `search:`) and the trainable that turns a trial's parameters into a model, an optimizer and a
// schedule. The rules live here once: a study file's values and both ends of its ranges are
// checked against them when it is loaded, a trial's parameters when it starts, and `krill train`'s
// options before it trains.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hpo/param.hpp"

namespace krill::tune {

enum class ParamKind { Float, Int, String };

struct ParamInfo {
  static constexpr double kNone = std::numeric_limits<double>::infinity();

  const char* name;
  ParamKind kind;
  const char* section;  // "model" or "training": where a fixed value is written
  const char* help;
  // Float and Int: the accepted numbers, from `min` to `max` (each end excluded when `*_open`;
  // +-kNone: no bound).
  double min = -kNone;
  double max = kNone;
  bool min_open = false;
  bool max_open = false;
  // String: the accepted names (empty: any text; `hidden` takes widths).
  std::span<const std::string_view> names = {};
};

// lr, momentum, weight_decay, nesterov, optimizer, batch, epochs, iterations, eval_every,
// schedule, decay_every, decay_factor, gamma, warmup, min_factor, layers, hidden, width, depth,
// activation, dropout, init.
std::span<const ParamInfo> training_params();
const ParamInfo* find_training_param(const std::string& name);  // nullptr if unknown

// What the parameter accepts, as the end of "..., expected <this>": "an integer >= 1", "a number
// in [0, 1)", "sgd or adam", "widths from 1 to 1048576, such as \"512,256\" or [512, 256]".
std::string expected_value(const ParamInfo& info);
// Whether `value` is one the parameter accepts. Numbers are compared whatever their variant
// (an integer parameter also takes a whole double); a value of the wrong kind is not allowed.
bool allowed(const ParamInfo& info, const hpo::ParamValue& value);
// Throws InvalidArgument "<label> is <value>, expected <expected_value>" unless allowed; `label`
// defaults to "parameter '<name>'". An unknown name is an error too.
void require_allowed(const std::string& name, const hpo::ParamValue& value,
                     const std::string& label = "");

// Hidden widths written "512,256" (spaces around the widths allowed); nullopt unless integers
// separated by commas. The widths are not range-checked: allowed() does that.
std::optional<std::vector<int64_t>> parse_widths(std::string_view text);

// The largest model a trial or `krill train` builds: 2^30 parameters, 4 GiB of float32 weights,
// which training keeps again as gradients and optimizer state.
inline constexpr int64_t kMaxModelParameters = int64_t{1} << 30;
// The most values one layer of a model holds for one image (its output, or a convolution's
// unfolded input): 2^28, 1 GiB of float32, which a batch multiplies. A network for images of the
// sizes krill reads holds a few million at most; past this, a padding or a pool made it by mistake.
inline constexpr int64_t kMaxImageValues = int64_t{1} << 28;
// Weights and biases of the MLP inputs -> hidden... -> classes; saturates at INT64_MAX.
int64_t mlp_parameters(std::span<const int64_t> hidden, int64_t inputs, int64_t classes);
// "" when the MLP fits kMaxModelParameters, else what is wrong and expected: "a model of
// 20000000000 parameters for 784 inputs and 10 classes (80 GB of float32 weights), expected at
// most 1073741824 parameters (4 GiB)". Computed without allocating anything.
std::string model_size_problem(std::span<const int64_t> hidden, int64_t inputs, int64_t classes);
// The same for a model of `count` parameters; `inputs` says what it takes ("784 inputs", "images
// [1, 28, 28]").
std::string model_size_problem(int64_t count, const std::string& inputs, int64_t classes);

}  // namespace krill::tune
