#include "tune/trainable.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <set>
#include <thread>

#include "backend/backend.hpp"
#include "core/error.hpp"
#include "core/serialize.hpp"
#include "data/loader.hpp"
#include "train/checkpoint.hpp"
#include "train/population.hpp"
#include "tune/model_template.hpp"
#include "tune/params.hpp"
#include "tune/stored_settings.hpp"
#include "tune/study_files.hpp"

namespace krill::tune {

namespace {

namespace fs = std::filesystem;

// More configurations of batch, epochs, iterations and eval_every than report_steps lists.
constexpr int64_t kMaxConfigurations = 100'000;

const hpo::ParamValue* find(const hpo::Params& p, const std::string& name) {
  auto it = p.find(name);
  return it == p.end() ? nullptr : &it->second;
}

// The getters read values make_config has checked (a number for a number parameter, a string
// for a string one; an integer one may come as a whole double).
double get_float(const hpo::Params& p, const std::string& name, double fallback) {
  const auto* v = find(p, name);
  return v ? hpo::as_double(*v, name) : fallback;
}

int64_t get_int(const hpo::Params& p, const std::string& name, int64_t fallback) {
  const auto* v = find(p, name);
  if (!v) return fallback;
  if (const auto* i = std::get_if<int64_t>(v)) return *i;
  return static_cast<int64_t>(hpo::as_double(*v, name));
}

std::string get_string(const hpo::Params& p, const std::string& name, const std::string& fallback) {
  const auto* v = find(p, name);
  if (!v) return fallback;
  if (const auto* text = std::get_if<std::string>(v)) return *text;
  return hpo::to_string(*v);  // `hidden: 512`, one layer's width as a number
}

optim::Schedule make_schedule(const hpo::Params& p) {
  const std::string kind = get_string(p, "schedule", "constant");
  if (kind == "step") {
    return optim::StepDecay{.every = get_int(p, "decay_every", 100),
                            .factor = get_float(p, "decay_factor", 0.95)};
  }
  if (kind == "exp") return optim::Exponential{.gamma = get_float(p, "gamma", 0.999)};
  if (kind == "cosine") {
    return optim::CosineWarmup{.warmup = get_int(p, "warmup", 0),
                               .min_factor = get_float(p, "min_factor", 0.0)};
  }
  return optim::Constant{};
}

// "512,256", or "64 layers of 1024" for a deep stack of one width.
std::string widths_text(const std::vector<int64_t>& hidden) {
  if (hidden.size() > 3 &&
      std::all_of(hidden.begin(), hidden.end(), [&](int64_t w) { return w == hidden.front(); })) {
    return std::to_string(hidden.size()) + " layers of " + std::to_string(hidden.front());
  }
  std::string out;
  for (const int64_t w : hidden) {
    if (!out.empty()) out += ',';
    out += std::to_string(w);
  }
  return out.empty() ? "none" : out;
}

// "" when the MLP fits (params.hpp), else "hidden widths 512,256 make a model of ...".
std::string mlp_problem(const std::vector<int64_t>& hidden, int64_t inputs, int64_t classes) {
  const std::string problem = model_size_problem(hidden, inputs, classes);
  if (problem.empty()) return problem;
  std::string out = "hidden widths ";  // piece by piece: see params.cpp on GCC 12's -Wrestrict
  out.append(widths_text(hidden)).append(" make ").append(problem);
  return out;
}

// The integers a searched dimension of an integer parameter proposes; nullopt above `limit`.
std::optional<std::vector<int64_t>> integers_of(const hpo::Dimension& dim, int64_t limit) {
  std::vector<int64_t> out;
  if (const auto* range = std::get_if<hpo::IntDim>(&dim)) {
    if (range->high - range->low >= limit) return std::nullopt;
    for (int64_t v = range->low; v <= range->high; ++v) out.push_back(v);
    return out;
  }
  const auto* choice = std::get_if<hpo::CategoricalDim>(&dim);
  const auto& values = choice ? choice->choices : std::get<hpo::GridDim>(dim).values;
  for (const auto& v : values) out.push_back(static_cast<int64_t>(hpo::as_double(v, "")));
  return out;
}

const hpo::Dimension* searched(const StudyFile& file, const std::string& name) {
  for (const auto& [n, dim] : file.space.dimensions()) {
    if (n == name) return &dim;
  }
  return nullptr;
}

}  // namespace

TrialConfig make_config(const hpo::Params& p) {
  const hpo::ParamValue* layers = find(p, "layers");
  const std::vector<std::string> used =
      layers ? template_names(get_string(p, "layers", "")) : std::vector<std::string>{};
  for (const auto& [name, value] : p) {
    if (find_training_param(name)) require_allowed(name, value);
  }
  TrialConfig c;
  if (layers) {
    c.model = nn::parse_model_spec(expand_layers(get_string(p, "layers", ""), p));
    // What shapes the shorthand's network cannot be given beside `layers`, unless the template
    // takes its value ({dropout}); a list has its activations and dropout as layers.
    for (const char* name : {"hidden", "width", "depth", "activation", "dropout"}) {
      const bool shorthand_option =
          std::string_view(name) == "activation" || std::string_view(name) == "dropout";
      if (!find(p, name) || std::find(used.begin(), used.end(), name) != used.end() ||
          (shorthand_option && !c.model.is_list)) {
        continue;
      }
      throw InvalidArgument(
          std::string("parameter '") + name + "' is set beside 'layers' '" +
          get_string(p, "layers", "") + "', which " +
          (shorthand_option ? "lists its activations and dropout as layers"
                            : "gives the whole network") +
          ": expected it used in layers as {" + name +
          "}, or removed (a parameter of the study's own needs a name that is not a training "
          "parameter's, such as n_layers)");
    }
    if (!c.model.is_list) {
      c.model.activation = nn::parse_activation(get_string(p, "activation", "relu"));
      c.model.dropout = static_cast<float>(get_float(p, "dropout", 0.0));
    }
  } else {
    if (find(p, "hidden")) {
      c.model.hidden = *parse_widths(get_string(p, "hidden", ""));
    } else if (find(p, "width") || find(p, "depth")) {
      c.model.hidden.assign(static_cast<size_t>(get_int(p, "depth", 1)), get_int(p, "width", 128));
    } else {
      c.model.hidden = {512, 256};
    }
    c.model.activation = nn::parse_activation(get_string(p, "activation", "relu"));
    c.model.dropout = static_cast<float>(get_float(p, "dropout", 0.0));
  }
  if (find(p, "init")) c.model.init = nn::parse_init(get_string(p, "init", "he"));

  c.optimizer = get_string(p, "optimizer", "sgd");
  const double lr = get_float(p, "lr", c.optimizer == "adam" ? 0.001 : 0.01);
  const double wd = get_float(p, "weight_decay", 0.0);
  if (c.optimizer == "adam") {
    c.adam = {.lr = lr, .weight_decay = wd};
  } else {
    c.sgd = {.lr = lr,
             .momentum = get_float(p, "momentum", 0.0),
             .weight_decay = wd,
             .nesterov = get_int(p, "nesterov", 0) != 0};
  }
  c.train.batch = get_int(p, "batch", 32);
  c.train.epochs = get_int(p, "epochs", 1);
  c.train.iterations = get_int(p, "iterations", 0);
  c.train.eval_every = get_int(p, "eval_every", 0);
  c.train.schedule = make_schedule(p);
  return c;
}

namespace {
// "" when every layer of `shapes` holds at most kMaxImageValues values an image, else which does
// not (checked before anything is allocated: it was std::bad_alloc, or a machine swapping).
std::string activation_problem(const std::vector<nn::LayerShape>& shapes,
                               const nn::ModelSpec& model) {
  for (size_t i = 0; i < shapes.size(); ++i) {
    const nn::LayerShape& s = shapes[i];
    // Its output, and a convolution's unfolded input (im2col), for one image; in doubles: a
    // padding of 1000 around 2^20 filters overflows an int64.
    const double out_plane = static_cast<double>(s.out.height) * static_cast<double>(s.out.width);
    double values = static_cast<double>(s.out.channels) * out_plane;
    if (s.layer.kind == nn::LayerKind::Conv) {
      values =
          std::max(values, static_cast<double>(s.in.channels) *
                               static_cast<double>(s.layer.kernel * s.layer.kernel) * out_plane);
    }
    if (values <= static_cast<double>(kMaxImageValues)) continue;
    char text[64];
    const double gib = values * 4 / (1 << 30);
    std::snprintf(text, sizeof text,
                  gib < 10 ? "%.3g values an image (%.1f GiB" : "%.3g values an image (%.0f GiB",
                  values, gib);
    return "layers " + model.to_string() + ": layer " + std::to_string(i + 1) + " '" +
           s.layer.to_string() + "' holds " + text +
           " of float32, times the batch), expected at most " + std::to_string(kMaxImageValues) +
           " (1 GiB an image)";
  }
  return "";
}
}  // namespace

std::string model_problem(const nn::ModelSpec& model, ImageShape input, int64_t classes) {
  if (!model.is_list) return mlp_problem(model.hidden, input.numel(), classes);
  try {
    const auto shapes = nn::infer_shapes(model, input, static_cast<int>(classes));
    const std::string problem =
        model_size_problem(nn::parameter_count(shapes), "images " + input.to_string(), classes);
    if (!problem.empty()) return "layers " + model.to_string() + " make " + problem;
    return activation_problem(shapes, model);
  } catch (const ShapeError& e) {
    return e.what();
  }
}

std::string batch_problem(const nn::ModelSpec& model, ImageShape input, int64_t classes,
                          int64_t train_size, int64_t batch, int64_t iterations) {
  if (train_size < 1 || batch < 1) return "";
  int64_t smallest = std::min(batch, train_size);
  // The last batch of an epoch, unless training ends before it.
  const int64_t per_epoch = data::batches_per_epoch(train_size, batch);
  if (train_size > batch && train_size % batch != 0 &&
      (iterations <= 0 || iterations >= per_epoch)) {
    smallest = train_size % batch;
  }
  if (smallest > 1) return "";
  std::vector<nn::LayerShape> shapes;
  try {
    shapes = nn::infer_shapes(model, input, static_cast<int>(classes));
  } catch (const ShapeError&) {
    return "";  // model_problem says what
  }
  for (size_t i = 0; i < shapes.size(); ++i) {
    const nn::LayerShape& s = shapes[i];
    if (s.layer.kind != nn::LayerKind::BatchNorm) continue;
    if (s.image_in && s.in.height * s.in.width > 1) continue;  // values a channel: batch x H x W
    const std::string layer = "layer " + std::to_string(i + 1) + " '" + s.layer.to_string() +
                              "' normalises each feature over a batch, but ";
    if (train_size == 1) {
      return layer + "the training set holds 1 image: expected at least 2";
    }
    const bool always = batch == 1;
    return layer + (always ? std::string("every batch") : "the last batch of each epoch") +
           " holds 1 image (" + std::to_string(train_size) + " training images, batch " +
           std::to_string(batch) + "): expected batches of at least 2 images (a batch size " +
           (always ? "above 1" : "that leaves more than 1") + ")";
  }
  return "";
}

ModelAndOptimizer build_model_and_optimizer(const TrialConfig& config, ImageShape input,
                                            int classes, uint64_t seed) {
  if (const auto problem = model_problem(config.model, input, classes); !problem.empty()) {
    throw InvalidArgument(problem);  // before allocating anything
  }
  ModelAndOptimizer out;
  out.model = nn::build_model(config.model, input, classes, seed);
  if (config.train.device != Device::Cpu) {
    if (auto why = backend::device_problem(config.train.device); !why.empty()) {
      throw InvalidArgument(why);
    }
    out.model->to(config.train.device);  // initialised on the host, the same on every device
  }
  if (config.optimizer == "adam") {
    out.optimizer = std::make_unique<optim::Adam>(out.model->parameters(), config.adam);
  } else {
    out.optimizer = std::make_unique<optim::Sgd>(out.model->parameters(), config.sgd);
  }
  return out;
}

std::shared_ptr<const StudyData> load_study_data(const StudyFile& file, bool with_train) {
  const std::string at = file.where("data");
  if (file.data != "fashion-mnist" && file.data != "mnist") {
    std::error_code ec;
    if (!fs::is_directory(file.data, ec)) {
      throw DataError(at + "'data' is '" + file.data +
                      "': " + (fs::exists(file.data, ec) ? "not a folder" : "no such folder") +
                      ", expected fashion-mnist, mnist or a folder of IDX files");
    }
  }
  try {
    auto [train, test] = data::load_idx(data::resolve_data(file.data), 0, with_train);
    if (!with_train) return std::make_shared<const StudyData>(StudyData{{}, {}, test});
    if (file.subset > 0) train = train.head(file.subset);
    auto [fit, validation] = train.split(file.validation, file.seed);
    return std::make_shared<const StudyData>(StudyData{fit, validation, test});
  } catch (const DataError& e) {
    throw DataError(at + e.what());
  }
}

DataShape shape_of(const StudyData& data) {
  return {.train = data.train.size(),
          .validation = data.validation.size(),
          .features = data.train.features(),
          .classes = data.train.classes(),
          .image = data.train.shape()};
}

std::optional<ReportSteps> report_steps(const StudyFile& file, int64_t train_size) {
  if (train_size <= 0) return std::nullopt;
  // Each of the four: its fixed value or default, or the values it is searched over.
  hpo::Params fixed = file.fixed;
  fixed.erase("layers");  // not needed here, and a template's parameters may be searched
  const train::TrainOptions base = make_config(fixed).train;
  std::map<std::string, std::vector<int64_t>> values{{"batch", {base.batch}},
                                                     {"epochs", {base.epochs}},
                                                     {"iterations", {base.iterations}},
                                                     {"eval_every", {base.eval_every}}};
  int64_t configurations = 1;
  for (auto& [name, list] : values) {
    if (const hpo::Dimension* dim = searched(file, name)) {
      auto integers = integers_of(*dim, kMaxConfigurations);
      if (!integers) return std::nullopt;
      // A conditional dimension is absent from some trials, which take the default.
      const auto index = file.space.index_of(name);
      if (index && file.space.condition(*index)) integers->push_back(list.front());
      list = std::move(*integers);
    }
    if (name != "eval_every") configurations *= static_cast<int64_t>(list.size());
    if (configurations > kMaxConfigurations) return std::nullopt;
  }

  // As the trainer counts (train/trainer.cpp): ceil(size / batch) batches per epoch, `iterations`
  // steps when > 0 or else epochs x batches per epoch, a point every eval_every steps (each
  // epoch when 0) and at the last.
  ReportSteps steps;
  for (const int64_t every : values["eval_every"]) {
    if (every == 0) {
      steps.each_epoch = true;
    } else {
      steps.every.push_back(every);
    }
  }
  std::set<ReportSteps::Run> runs;
  for (const int64_t batch : values["batch"]) {
    const int64_t per_epoch = data::batches_per_epoch(train_size, batch);
    for (const int64_t epochs : values["epochs"]) {
      for (const int64_t iterations : values["iterations"]) {
        int64_t last = iterations;
        if (last == 0 && __builtin_mul_overflow(epochs, per_epoch, &last)) {
          throw InvalidArgument(file.where("epochs") + std::to_string(epochs) + " epochs of " +
                                std::to_string(per_epoch) + " batches (" +
                                std::to_string(train_size) + " training images, batch " +
                                std::to_string(batch) + ") are more steps than can be counted " +
                                "(at most " + std::to_string(std::numeric_limits<int64_t>::max()) +
                                "), expected fewer epochs");
        }
        runs.insert({last, per_epoch});
      }
    }
  }
  steps.runs.assign(runs.begin(), runs.end());
  return steps;
}

void check_study_data(const StudyFile& file, const DataShape& data) {
  if (data.train < 1 || data.validation < 1) {
    const std::string key = data.train + data.validation == 0       ? "data"  // no images at all
                            : file.positions.contains("subset")     ? "subset"
                            : file.positions.contains("validation") ? "validation"
                                                                    : "data";
    throw InvalidArgument(file.where(key) + "the data leaves " + std::to_string(data.train) +
                          " training and " + std::to_string(data.validation) +
                          " validation images (subset " + std::to_string(file.subset) +
                          ", validation " + hpo::to_string(file.validation) +
                          "), expected at least one of each");
  }

  // `layers`: each model it can be (a template's are checked as each trial starts, failing the
  // trial, since its parameters shape it).
  std::vector<hpo::ParamValue> layer_values;
  if (const hpo::Dimension* dim = searched(file, "layers")) {
    const auto* choice = std::get_if<hpo::CategoricalDim>(dim);
    layer_values = choice ? choice->choices : std::get<hpo::GridDim>(*dim).values;
  } else if (const auto it = file.fixed.find("layers"); it != file.fixed.end()) {
    layer_values = {it->second};
  }
  for (const auto& value : layer_values) {
    const auto* text = std::get_if<std::string>(&value);
    if (!text || !template_names(*text).empty()) continue;
    hpo::Params p = file.fixed;
    p["layers"] = value;
    const auto problem = model_problem(make_config(p).model, data.image, data.classes);
    if (!problem.empty()) throw InvalidArgument(file.where("layers") + problem);
  }

  // Else the largest MLP each way of giving the widths can propose (a model grows with each
  // width and with the depth): every `hidden` value, or the largest width and depth.
  std::vector<std::pair<std::string, hpo::Params>> models;
  if (!layer_values.empty()) {
    // none: checked above
  } else if (const hpo::Dimension* dim = searched(file, "hidden")) {
    const auto* choice = std::get_if<hpo::CategoricalDim>(dim);
    for (const auto& v : choice ? choice->choices : std::get<hpo::GridDim>(*dim).values) {
      hpo::Params p = file.fixed;
      p["hidden"] = v;
      models.emplace_back("hidden", std::move(p));
    }
  } else {
    hpo::Params p = file.fixed;
    for (const char* name : {"width", "depth"}) {
      if (const hpo::Dimension* dim = searched(file, name)) {
        const auto* range = std::get_if<hpo::IntDim>(dim);
        const auto integers =
            range ? std::vector<int64_t>{range->high} : *integers_of(*dim, kMaxConfigurations);
        p[name] = *std::max_element(integers.begin(), integers.end());
      }
    }
    const bool by_width = file.positions.contains("width") || file.positions.contains("depth");
    const std::string key = file.positions.contains("hidden")  ? "hidden"
                            : !by_width                        ? "data"
                            : file.positions.contains("width") ? "width"
                                                               : "depth";
    models.emplace_back(key, std::move(p));
  }
  for (const auto& [key, params] : models) {
    const auto problem = mlp_problem(make_config(params).model.hidden, data.features, data.classes);
    if (!problem.empty()) throw InvalidArgument(file.where(key) + problem);
  }

  const auto steps = report_steps(file, data.train);
  check_stopping_acts(file.stopping, steps ? &*steps : nullptr, file.trials);
  if (file.pbt && steps) check_pbt_acts(file, *steps);
}

void check_pbt_acts(const StudyFile& file, const ReportSteps& steps) {
  const int64_t interval = file.pbt->options.interval;
  const std::string at = file.pbt->positions.contains("interval")
                             ? file.pbt->positions.at("interval")
                             : file.pbt->positions.at("pbt");
  // Members report every eval_every steps (each epoch when unset): a generation's step must be
  // one they all report at.
  for (const int64_t every : steps.every) {
    if (interval % every != 0) {
      throw InvalidArgument(at + "the PBT interval is " + std::to_string(interval) +
                            " steps, but trials report every " + std::to_string(every) +
                            " (eval_every), expected a multiple of " + std::to_string(every));
    }
  }
  if (steps.each_epoch) {
    for (const auto& run : steps.runs) {
      if (interval % run.per_epoch != 0) {
        throw InvalidArgument(at + "the PBT interval is " + std::to_string(interval) +
                              " steps, but trials report at the end of each epoch of " +
                              std::to_string(run.per_epoch) + " batches, expected a multiple of " +
                              std::to_string(run.per_epoch) + " (or set eval_every)");
      }
    }
  }
  for (const auto& run : steps.runs) {
    if (interval >= run.last) {
      throw InvalidArgument(at + "the PBT interval is " + std::to_string(interval) +
                            " steps, but trials train " + std::to_string(run.last) +
                            " steps: no generation would ever be decided, expected an interval "
                            "below " +
                            std::to_string(run.last));
    }
  }
}

struct TrainingObjective::Run {
  TrialConfig config;
  std::unique_ptr<nn::Sequential> model;
  std::unique_ptr<optim::Optimizer> optimizer;
};

namespace {

// A PBT member's state: "KRILLMEM" | u32 version | u32 count, (name, u8 kind, value) each: the
// trial's hyperparameters now | u64 size + a train::save_checkpoint byte string (weights,
// optimizer state, steps done, base learning rate).
constexpr char kMemberMagic[8] = {'K', 'R', 'I', 'L', 'L', 'M', 'E', 'M'};
constexpr uint32_t kMemberVersion = 1;

std::vector<uint8_t> encode_member(const hpo::Params& params, std::span<const uint8_t> checkpoint) {
  BinaryWriter out;
  out.bytes(std::span(reinterpret_cast<const uint8_t*>(kMemberMagic), sizeof kMemberMagic));
  out.u32(kMemberVersion);
  out.u32(static_cast<uint32_t>(params.size()));
  for (const auto& [name, value] : params) {
    out.string(name);
    if (const auto* d = std::get_if<double>(&value)) {
      out.u8(0);
      out.f64(*d);
    } else if (const auto* i = std::get_if<int64_t>(&value)) {
      out.u8(1);
      out.i64(*i);
    } else {
      out.u8(2);
      out.string(std::get<std::string>(value));
    }
  }
  out.u64(checkpoint.size());
  out.bytes(checkpoint);
  return out.take();
}

struct MemberBytes {
  hpo::Params params;
  std::span<const uint8_t> checkpoint;
};

MemberBytes decode_member(std::span<const uint8_t> bytes, const std::string& source) {
  BinaryReader in(bytes, source);
  const auto magic = in.bytes(sizeof kMemberMagic, "magic");
  if (!std::equal(magic.begin(), magic.end(), reinterpret_cast<const uint8_t*>(kMemberMagic))) {
    in.fail("not a krill PBT member state (it does not start with KRILLMEM)");
  }
  const uint32_t version = in.u32("version");
  if (version != kMemberVersion) {
    in.fail("member state version " + std::to_string(version) + ", this krill reads version " +
            std::to_string(kMemberVersion));
  }
  MemberBytes out;
  const uint32_t count = in.u32("parameter count");
  for (uint32_t i = 0; i < count; ++i) {
    std::string name = in.string("parameter name");
    const uint8_t kind = in.u8("parameter kind");
    if (kind == 0) {
      out.params[name] = in.f64("parameter value");
    } else if (kind == 1) {
      out.params[name] = in.i64("parameter value");
    } else if (kind == 2) {
      out.params[name] = in.string("parameter value");
    } else {
      in.fail("parameter '" + name + "' of unknown kind " + std::to_string(kind));
    }
  }
  const uint64_t size = in.u64("checkpoint size");
  if (size != in.remaining()) {
    in.fail("checkpoint of " + std::to_string(size) + " bytes, " + std::to_string(in.remaining()) +
            " bytes left");
  }
  out.checkpoint = in.bytes(static_cast<size_t>(size), "checkpoint");
  return out;
}

}  // namespace

// A PBT member's configuration with its hyperparameters changed from `now` to `next`; throws
// InvalidArgument for one that cannot change while a member trains (solo or in a population).
static TrialConfig evolved_config(const hpo::Params& fixed, const hpo::Params& now,
                                  const hpo::Params& next) {
  for (const auto& [name, value] : next) {
    const auto it = now.find(name);
    if ((it == now.end() || it->second != value) && !evolvable(name)) {
      throw InvalidArgument("'" + name + "' cannot change while a member trains");
    }
  }
  hpo::Params all = fixed;
  for (const auto& [name, value] : next) all[name] = value;
  return make_config(all);
}

// The Trainable of a running trial (hpo/trainable.hpp): its model, optimizer and trainer, with
// the hyperparameters it trains with now.
class TrainingObjective::Member final : public hpo::Trainable {
 public:
  Member(const hpo::Params& fixed, Run& run, train::Trainer& trainer, hpo::Params params,
         const std::atomic<int64_t>& done)
      : fixed_(fixed), run_(run), trainer_(trainer), params_(std::move(params)), done_(done) {}

  std::vector<uint8_t> save() override {
    const train::TrainState state{.iteration = step(), .base_lr = trainer_.base_lr()};
    return encode_member(params_, train::save_checkpoint(*run_.model, *run_.optimizer, state));
  }

  void load(std::span<const uint8_t> bytes) override {
    const MemberBytes m = decode_member(bytes, "PBT member state");
    // Kept to undo a refused state: the donor's optimizer options must be set before its
    // buffers load, and a checkpoint of another step is only seen once loaded.
    const hpo::Params before = params_;
    const double before_lr = trainer_.base_lr();
    const std::vector<uint8_t> before_state = train::save_checkpoint(
        *run_.model, *run_.optimizer, {.iteration = step(), .base_lr = before_lr});
    BinaryWriter own_streams;  // the recipient keeps drawing its own dropout masks
    run_.model->save_streams(own_streams);
    try {
      set_params(m.params);
      const train::TrainState state =
          train::load_checkpoint(m.checkpoint, *run_.model, *run_.optimizer, "PBT member state");
      if (state.iteration != step()) {
        throw DataError("PBT member state: of step " + std::to_string(state.iteration) +
                        ", this member is at step " + std::to_string(step()));
      }
      trainer_.set_base_lr(state.base_lr);
      BinaryReader streams(own_streams.buffer(), "the member's own streams");
      run_.model->load_streams(streams);
    } catch (...) {
      set_params(before);
      train::load_checkpoint(before_state, *run_.model, *run_.optimizer);
      trainer_.set_base_lr(before_lr);
      throw;
    }
  }

  void set_params(const hpo::Params& params) override {
    const TrialConfig c = evolved_config(fixed_, params_, params);
    if (auto* sgd = dynamic_cast<optim::Sgd*>(run_.optimizer.get())) sgd->set_options(c.sgd);
    if (auto* adam = dynamic_cast<optim::Adam*>(run_.optimizer.get())) adam->set_options(c.adam);
    trainer_.set_base_lr(run_.config.optimizer == "adam" ? c.adam.lr : c.sgd.lr);
    trainer_.set_schedule(c.train.schedule);
    run_.config.sgd = c.sgd;
    run_.config.adam = c.adam;
    run_.config.train.schedule = c.train.schedule;
    params_ = params;
  }

  hpo::Params params() const override { return params_; }
  int64_t step() const override { return done_.load(std::memory_order_relaxed); }

 private:
  const hpo::Params& fixed_;
  Run& run_;
  train::Trainer& trainer_;
  hpo::Params params_;
  const std::atomic<int64_t>& done_;
};

struct TrainingObjective::Kept {
  Run run;
  train::TrainState state;
};

TrainingObjective::~TrainingObjective() = default;

TrainingObjective::TrainingObjective(const StudyFile& file, std::shared_ptr<const StudyData> data,
                                     std::filesystem::path checkpoint_prefix,
                                     std::optional<double> best_so_far, int64_t best_number)
    : fixed_(file.fixed),
      seed_(file.seed),
      device_(file.device),
      maximize_(file.objective == "val_accuracy"),
      data_(std::move(data)),
      prefix_(std::move(checkpoint_prefix)),
      best_(best_so_far),
      best_number_(best_so_far ? best_number : -1) {
  if (file.pbt) {
    pbt_interval_ = file.pbt->options.interval;
    member_prefix_ = study_files_prefix(file.storage, file.name);
  }
}

std::filesystem::path TrainingObjective::member_state_of(int64_t number, int64_t step) const {
  if (member_prefix_.empty()) return {};
  return member_state_file(member_prefix_, number, step);
}

int64_t TrainingObjective::member_resume_step() const {
  if (member_prefix_.empty()) return 0;
  std::lock_guard lock(mutex_);
  if (!resume_step_) {
    std::optional<int64_t> earliest;
    for (const auto& [number, steps] : member_state_files(member_prefix_)) {
      earliest = std::min(earliest.value_or(steps.back()), steps.back());
    }
    resume_step_ = earliest.value_or(0);
  }
  return *resume_step_;
}

void TrainingObjective::save_member_state(int64_t number, int64_t step,
                                          std::span<const uint8_t> bytes) const {
  if (member_prefix_.empty()) return;
  train::write_checkpoint_file(member_state_of(number, step), bytes);
  const auto all = member_state_files(member_prefix_);
  const auto it = all.find(number);
  if (it == all.end()) return;
  // Keeps this state and the one before it (a killed run's members may resume from either).
  const std::vector<int64_t>& steps = it->second;
  const auto at = std::lower_bound(steps.begin(), steps.end(), step);
  if (at == steps.end() || at == steps.begin()) return;
  for (auto old = steps.begin(); old + 1 < at; ++old) {
    std::error_code ec;
    std::filesystem::remove(member_state_of(number, *old), ec);
  }
}

void TrainingObjective::remove_member_states(int64_t number) const {
  if (member_prefix_.empty()) return;
  const auto all = member_state_files(member_prefix_);
  if (const auto it = all.find(number); it != all.end()) {
    for (const int64_t step : it->second) {
      std::error_code ec;
      std::filesystem::remove(member_state_of(number, step), ec);
    }
  }
}

std::filesystem::path TrainingObjective::checkpoint_of(int64_t number) const {
  return checkpoint_file(prefix_, number);
}

TrainingObjective::Run TrainingObjective::build(const hpo::Params& all, uint64_t seed) const {
  Run r{make_config(all), nullptr, nullptr};
  r.config.train.seed = seed;
  r.config.train.device = device_;
  // The model's inputs and classes; the test set has the same (the manager holds it alone).
  const data::Dataset& shape = data_->train.storage() ? data_->train : data_->test;
  if (const auto problem =
          batch_problem(r.config.model, shape.shape(), shape.classes(), data_->train.size(),
                        r.config.train.batch, r.config.train.iterations);
      !problem.empty()) {
    throw InvalidArgument(problem);  // before training, not at the first epoch's end
  }
  auto built = build_model_and_optimizer(r.config, shape.shape(), shape.classes(), seed);
  r.model = std::move(built.model);
  r.optimizer = std::move(built.optimizer);
  return r;
}

bool TrainingObjective::report_point(hpo::Trial& trial, const train::CurvePoint& p,
                                     bool last) const {
  return trial.report(p.iteration, maximize_ ? p.val_accuracy : p.val_loss,
                      {{"lr", p.lr},
                       {"train_loss", p.train_loss},
                       {"val_loss", p.val_loss},
                       {"val_accuracy", p.val_accuracy}},
                      last);
}

double TrainingObjective::operator()(hpo::Trial& trial) {
  backend::Backend& cpu = backend::backend(Device::Cpu);
  int threads = trial.threads();
  int most_threads = threads;  // the share may change as other processes join or leave
  cpu.set_threads(threads);
  hpo::Params params = trial.params();
  // A PBT member that was training when its run ended resumes from the state it saved at the
  // generation every member resumes from (member_resume_step): its hyperparameters then, its
  // weights, optimizer state and step.
  const bool pbt_member = !member_prefix_.empty() && pbt_interval_ > 0;
  const int64_t resume_step = pbt_member ? member_resume_step() : 0;
  const std::filesystem::path member_file =
      resume_step > 0 ? member_state_of(trial.number(), resume_step) : std::filesystem::path();
  struct RemoveStates {  // a member that ends (however) no longer resumes...
    const TrainingObjective& o;
    bool pbt_member;
    const hpo::Trial& trial;
    ~RemoveStates() {
      // ...unless another run took it back: the states are that attempt's now.
      if (pbt_member && !trial.last_decision().lost) o.remove_member_states(trial.number());
    }
  } remove_states{*this, pbt_member, trial};
  std::vector<uint8_t> resumed;
  std::optional<MemberBytes> saved;  // views into `resumed`
  if (!member_file.empty() && std::filesystem::exists(member_file)) {
    resumed = train::read_checkpoint_file(member_file);
    saved = decode_member(resumed, member_file.string());
    params = saved->params;
  }
  hpo::Params all = fixed_;
  for (const auto& [name, value] : params) all[name] = value;
  const uint64_t seed = trial_seed(seed_, trial.number());
  Run run = build(all, seed);
  if (saved) {
    const train::TrainState state =
        train::load_checkpoint(saved->checkpoint, *run.model, *run.optimizer, member_file.string());
    run.optimizer->set_lr(state.base_lr);
    run.config.train.start_iteration = state.iteration;
    trial.set_attr("resumed_step", static_cast<double>(state.iteration));
  }

  nn::SoftmaxCrossEntropy loss;
  train::Trainer trainer(run.config.train);
  auto owned = std::make_unique<Running>();
  Running& steps = *owned;
  steps.planned = trainer.total_iterations(data_->train);
  {
    std::lock_guard lock(mutex_);
    running_[trial.number()] = std::move(owned);
  }
  struct Forget {  // however the trial ends
    TrainingObjective& o;
    int64_t number;
    ~Forget() {
      std::lock_guard lock(o.mutex_);
      o.running_.erase(number);
    }
  } forget{*this, trial.number()};
  steps.done.store(run.config.train.start_iteration, std::memory_order_relaxed);
  trainer.on_step([&steps](int64_t done, int64_t, double) {
    steps.done.store(done, std::memory_order_relaxed);
  });
  Member member(fixed_, run, trainer, params, steps.done);
  trial.attach(&member);
  // A member starting from step 0 saves its state at once, so that a killed run's members all
  // have one and resume from one generation (a member that ended has none).
  if (pbt_member && !saved && resume_step == 0) save_member_state(trial.number(), 0, member.save());
  struct Detach {  // however the trial ends
    hpo::Trial& trial;
    ~Detach() { trial.attach(nullptr); }
  } detach{trial};
  trainer.on_report([&](const train::CurvePoint& p) {
    const bool last = p.iteration == steps.planned;
    const bool go_on = report_point(trial, p, last);
    // A PBT generation decided (and may have replaced this member's state): save it, so that a
    // resumed study continues from here.
    if (pbt_member && !last && p.iteration % pbt_interval_ == 0 && !trial.last_decision().lost) {
      save_member_state(trial.number(), p.iteration, member.save());
    }
    // Another process of the study may have joined (or left) this host: take the new share.
    if (const int now = trial.threads(); now != threads) cpu.set_threads(threads = now);
    most_threads = std::max(most_threads, threads);
    return go_on;
  });
  const train::History h =
      trainer.fit(*run.model, *run.optimizer, loss, data_->train, &data_->validation);
  trial.set_attr("iterations", static_cast<double>(h.iterations));
  trial.set_attr("train_seconds", h.train_seconds);
  trial.set_attr("threads", most_threads);
  if (device_ != Device::Cpu) trial.set_attr("gpu", 1);  // for krill best: not the CPU's sums
  if (h.status == train::RunStatus::Diverged) {
    throw hpo::Diverged("loss not finite at iteration " + std::to_string(h.diverged_at));
  }
  const train::Evaluation val = h.validation.value_or(train::Evaluation{});
  trial.set_attr("val_accuracy", val.accuracy);
  trial.set_attr("val_loss", val.loss);
  const double value = maximize_ ? val.accuracy : val.loss;

  const train::TrainState state{.iteration = h.iterations, .base_lr = run.optimizer->lr()};
  if (h.status == train::RunStatus::Completed && in_memory_) {
    auto kept = std::make_unique<Kept>(Kept{std::move(run), state});
    std::lock_guard lock(mutex_);
    kept_[trial.number()] = std::move(kept);
  } else if (h.status == train::RunStatus::Completed && !prefix_.empty()) {
    std::lock_guard lock(mutex_);
    if (replaces_best(value, trial.number())) {
      keep_locked(trial.number(), value, train::save_checkpoint(*run.model, *run.optimizer, state));
    }
  }
  return value;
}

std::string TrainingObjective::group(int64_t number, const hpo::Params& params) const {
  // A PBT member resuming from its saved state starts mid-run: alone (a population starts at 0).
  if (pbt_interval_ > 0 && member_resume_step() > 0) {
    if (const auto file = member_state_of(number, member_resume_step());
        !file.empty() && std::filesystem::exists(file)) {
      return "";
    }
  }
  hpo::Params all = fixed_;
  for (const auto& [name, value] : params) all[name] = value;
  try {
    const TrialConfig c = make_config(all);
    const DataShape shape = shape_of(*data_);
    if (!model_problem(c.model, shape.image, shape.classes).empty()) return "";
    train::MemberConfig m{c.model, c.optimizer, c.sgd, c.adam, c.train, 0};
    m.train.device = device_;
    return train::population_key(m, static_cast<int>(shape.classes));
  } catch (const Error&) {
    return "";  // the trial fails alone, with its own message
  }
}

// The Trainable of a population member (hpo/trainable.hpp), for PBT: its state is its slice, as
// a solo member's checkpoint, and an exploit loads the donor's into the slice.
class TrainingObjective::PopulationMember final : public hpo::Trainable {
 public:
  PopulationMember(const hpo::Params& fixed, train::Population& population, int member,
                   hpo::Params params, const std::atomic<int64_t>& done)
      : fixed_(fixed),
        population_(population),
        member_(member),
        params_(std::move(params)),
        done_(done) {}

  std::vector<uint8_t> save() override {
    return encode_member(params_, population_.checkpoint(member_));
  }

  void load(std::span<const uint8_t> bytes) override {
    const MemberBytes m = decode_member(bytes, "PBT member state");
    const hpo::Params before = params_;
    const std::vector<uint8_t> before_state = population_.checkpoint(member_);
    try {
      set_params(m.params);
      population_.load_member(member_, m.checkpoint);
    } catch (...) {
      set_params(before);
      population_.load_member(member_, before_state);
      throw;
    }
  }

  void set_params(const hpo::Params& params) override {
    const TrialConfig c = evolved_config(fixed_, params_, params);
    population_.set_options(member_, c.sgd, c.adam);
    population_.set_base_lr(member_, c.optimizer == "adam" ? c.adam.lr : c.sgd.lr);
    population_.set_schedule(member_, c.train.schedule);
    params_ = params;
  }

  hpo::Params params() const override { return params_; }
  int64_t step() const override { return done_.load(std::memory_order_relaxed); }

 private:
  const hpo::Params& fixed_;
  train::Population& population_;
  int member_;
  hpo::Params params_;
  const std::atomic<int64_t>& done_;
};

void TrainingObjective::run(const std::vector<hpo::Trial*>& trials, const Finish& finish) {
  if (trials.empty()) return;
  const int group_threads = trials.front()->threads();
  backend::backend(Device::Cpu).set_threads(group_threads);
  std::vector<train::MemberConfig> members;
  for (hpo::Trial* trial : trials) {
    hpo::Params all = fixed_;
    for (const auto& [name, value] : trial->params()) all[name] = value;
    const uint64_t seed = trial_seed(seed_, trial->number());
    TrialConfig c = make_config(all);
    c.train.seed = seed;
    c.train.device = device_;
    members.push_back({c.model, c.optimizer, c.sgd, c.adam, c.train, seed});
  }
  const DataShape shape = shape_of(*data_);
  if (const auto problem =
          batch_problem(members.front().model, shape.image, shape.classes, shape.train,
                        members.front().train.batch, members.front().train.iterations);
      !problem.empty()) {
    throw InvalidArgument(problem);  // the members share their layers and batch
  }
  train::Population population(members, shape.image, static_cast<int>(shape.classes), device_);
  const size_t count = trials.size();
  const int64_t planned = train::Trainer(members.front().train).total_iterations(data_->train);

  // Progress: every member's steps, as a solo trial's.
  std::vector<Running*> steps;
  {
    std::lock_guard lock(mutex_);
    for (hpo::Trial* trial : trials) {
      auto owned = std::make_unique<Running>();
      owned->planned = planned;
      steps.push_back(owned.get());
      running_[trial->number()] = std::move(owned);
    }
  }
  struct Forget {  // however the population ends
    TrainingObjective& o;
    const std::vector<hpo::Trial*>& trials;
    ~Forget() {
      std::lock_guard lock(o.mutex_);
      for (hpo::Trial* t : trials) o.running_.erase(t->number());
    }
  } forget{*this, trials};
  std::vector<char> training(count, 1);
  population.on_step([&](int64_t done, int64_t, int) {
    for (size_t m = 0; m < count; ++m) {
      if (training[m]) steps[m]->done.store(done, std::memory_order_relaxed);
    }
  });

  // PBT: every member is a Trainable on its slice; at a generation's step the members report at
  // once, each on a thread of its own, since each waits until the whole generation has reported
  // (and then carries out its exploit); their states are saved for a resumed study, as solo
  // members' are.
  std::vector<std::unique_ptr<PopulationMember>> trainables;
  for (size_t m = 0; m < count; ++m) {
    trainables.push_back(std::make_unique<PopulationMember>(fixed_, population, static_cast<int>(m),
                                                            trials[m]->params(), steps[m]->done));
    trials[m]->attach(trainables.back().get());
  }
  struct Detach {  // however the population ends
    const std::vector<hpo::Trial*>& trials;
    ~Detach() {
      for (hpo::Trial* t : trials) t->attach(nullptr);
    }
  } detach{trials};
  const bool pbt_members = !member_prefix_.empty() && pbt_interval_ > 0;
  auto save_member = [&](size_t m, int64_t step) {
    if (pbt_members) save_member_state(trials[m]->number(), step, trainables[m]->save());
  };
  // Members start at step 0 (group() keeps resumed ones out): each saves its state at once, as a
  // solo member does, unless the study resumes from a later generation (then this member had
  // none at it, and starting afresh it leaves the others' cut alone).
  if (pbt_members && member_resume_step() == 0) {
    for (size_t m = 0; m < count; ++m) save_member(m, 0);
  }
  std::vector<std::pair<int, train::CurvePoint>> generation;  // the points waiting to report
  population.on_report([&](int m, const train::CurvePoint& p) {
    const bool last = p.iteration == planned;
    if (trials[static_cast<size_t>(m)]->last_decision().lost) {  // told so at a generation
      training[static_cast<size_t>(m)] = 0;
      return false;
    }
    if (pbt_interval_ <= 0 || last || p.iteration % pbt_interval_ != 0) {
      const bool go_on = report_point(*trials[static_cast<size_t>(m)], p, last);
      if (!go_on) training[static_cast<size_t>(m)] = 0;
      return go_on;
    }
    generation.emplace_back(m, p);
    for (int later = m + 1; later < static_cast<int>(count); ++later) {
      if (population.is_active(later)) return true;  // reported with the last member's point
    }
    std::vector<std::exception_ptr> errors(generation.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < generation.size(); ++i) {
      threads.emplace_back([&, i] {
        try {
          const auto [member, point] = generation[i];
          // A member another run took back (lost) leaves at its next point, its states kept.
          if (report_point(*trials[static_cast<size_t>(member)], point, false)) {
            save_member(static_cast<size_t>(member), point.iteration);
          }
        } catch (...) {
          errors[i] = std::current_exception();
        }
      });
    }
    for (auto& t : threads) t.join();
    generation.clear();
    for (auto& e : errors) {
      if (e) std::rethrow_exception(e);
    }
    return !trials[static_cast<size_t>(m)]->last_decision().lost;  // PBT itself never stops
  });

  auto result_of = [&](size_t m, const train::History& h) -> Result {
    hpo::Trial& trial = *trials[m];
    trial.set_attr("iterations", static_cast<double>(h.iterations));
    trial.set_attr("train_seconds", h.train_seconds);
    trial.set_attr("population", static_cast<double>(count));
    trial.set_attr("threads", group_threads);
    if (device_ != Device::Cpu) trial.set_attr("gpu", 1);
    if (h.status == train::RunStatus::Diverged) {
      return std::make_exception_ptr(
          hpo::Diverged("loss not finite at iteration " + std::to_string(h.diverged_at)));
    }
    const train::Evaluation val = h.validation.value_or(train::Evaluation{});
    trial.set_attr("val_accuracy", val.accuracy);
    trial.set_attr("val_loss", val.loss);
    const double value = maximize_ ? val.accuracy : val.loss;
    if (h.status == train::RunStatus::Completed && !prefix_.empty()) {
      std::lock_guard lock(mutex_);
      if (replaces_best(value, trial.number())) {
        keep_locked(trial.number(), value, population.checkpoint(static_cast<int>(m)));
      }
    }
    return value;
  };
  auto end_member = [&](size_t m, const train::History& h) {
    training[m] = 0;
    // It no longer resumes, unless another run took it back: the states are that attempt's.
    if (pbt_members && !trials[m]->last_decision().lost) remove_member_states(trials[m]->number());
    finish(m, result_of(m, h));
  };
  // A member that leaves early is settled at once: a PBT generation waits on every member that
  // has not finished.
  population.on_leave(
      [&](int m, const train::History& h) { end_member(static_cast<size_t>(m), h); });
  const std::vector<train::History> histories = population.fit(data_->train, &data_->validation);
  for (size_t m = 0; m < count; ++m) {
    if (training[m] || histories[m].status == train::RunStatus::Completed) {
      end_member(m, histories[m]);  // finish() ignores a member already settled
    }
  }
}

TrainingObjective::Steps TrainingObjective::running_steps() const {
  Steps sum;
  std::lock_guard lock(mutex_);
  for (const auto& [number, r] : running_) {
    // Saturated: a trial may plan up to INT64_MAX steps.
    if (__builtin_add_overflow(sum.done, r->done.load(std::memory_order_relaxed), &sum.done)) {
      sum.done = std::numeric_limits<int64_t>::max();
    }
    if (__builtin_add_overflow(sum.planned, r->planned, &sum.planned)) {
      sum.planned = std::numeric_limits<int64_t>::max();
    }
  }
  return sum;
}

std::vector<uint8_t> TrainingObjective::take_weights(int64_t number, bool wanted) {
  std::unique_ptr<Kept> kept;
  {
    std::lock_guard lock(mutex_);
    auto it = kept_.find(number);
    if (it == kept_.end()) return {};
    kept = std::move(it->second);
    kept_.erase(it);
  }
  if (!wanted) return {};
  return train::save_checkpoint(*kept->run.model, *kept->run.optimizer, kept->state);
}

bool TrainingObjective::wants_weights(int64_t number, double value) {
  std::lock_guard lock(mutex_);
  return !prefix_.empty() && replaces_best(value, number);
}

void TrainingObjective::keep_weights(int64_t number, double value, std::span<const uint8_t> bytes) {
  std::lock_guard lock(mutex_);
  if (!prefix_.empty() && replaces_best(value, number)) keep_locked(number, value, bytes);
}

void TrainingObjective::keep_locked(int64_t number, double value, std::span<const uint8_t> bytes) {
  train::write_checkpoint_file(checkpoint_of(number), bytes);
  if (best_number_ >= 0 && best_number_ != number) {
    std::filesystem::remove(checkpoint_of(best_number_));
  }
  best_ = value;
  best_number_ = number;
}

// Two workers may finish trials of equal value in either order; the weights kept are those of the
// trial that Study::best_trial() names: the lowest number among the equal values.
bool TrainingObjective::replaces_best(double value, int64_t number) const {
  if (!best_ || better(value, *best_)) return true;
  return value == *best_ && best_number_ >= 0 && number < best_number_;
}

std::optional<train::Evaluation> TrainingObjective::test_best(const hpo::TrialRecord& best) const {
  if (prefix_.empty()) return std::nullopt;
  const auto file = checkpoint_of(best.number);
  if (!std::filesystem::exists(file)) return std::nullopt;
  hpo::Params all = fixed_;
  for (const auto& [name, value] : best.params) all[name] = value;
  Run run = build(all, 0);
  train::load_checkpoint_file(file, *run.model, *run.optimizer);
  nn::SoftmaxCrossEntropy loss;
  return train::evaluate(*run.model, loss, data_->test, 1000, run.config.train.device);
}

}  // namespace krill::tune
