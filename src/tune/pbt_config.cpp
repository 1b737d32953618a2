#include "tune/pbt_config.hpp"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

#include "core/error.hpp"

namespace krill::tune {

namespace {

using Strings = std::vector<std::string>;

const Strings kKeys{"population", "interval", "quantile", "factors", "resample", "evolve"};
// Training parameters that change the model, the optimizer or the length of training: a member
// cannot take them mid-run.
const Strings kFixedDuringTraining{"optimizer",  "batch",   "epochs", "iterations",
                                   "eval_every", "hidden",  "width",  "depth",
                                   "activation", "dropout", "init"};

int64_t integer(const yaml::Source& src, const yaml::Entry& e, int64_t min,
                std::optional<int64_t> max = std::nullopt) {
  const auto v = yaml::is_plain(e.value) ? yaml::parse_int(e.value.Scalar()) : std::nullopt;
  if (!v || *v < min || (max && *v > *max)) {
    src.fail(e.at(), "'" + e.key + "' is " + yaml::describe(e.value) + ", expected an integer " +
                         (max ? "from " + std::to_string(min) + " to " + std::to_string(*max)
                              : ">= " + std::to_string(min)));
  }
  return *v;
}

double number(const yaml::Source& src, const YAML::Node& node, const std::string& label, double lo,
              double hi, bool lo_open, const YAML::Node& at) {
  const auto v = yaml::is_plain(node) ? yaml::parse_number(node.Scalar()) : std::nullopt;
  if (!v || !(lo_open ? *v > lo : *v >= lo) || !(*v <= hi)) {
    const auto text = [](double v) { return fmt::format("{:g}", v); };
    src.fail(at, label + " is " + yaml::describe(node) + ", expected a number in " +
                     (lo_open ? "(" : "[") + text(lo) + ", " + text(hi) + "]");
  }
  return *v;
}

}  // namespace

bool evolvable(const std::string& name) {
  const ParamInfo* info = find_training_param(name);
  return info && std::string(info->section) == "training" &&
         std::find(kFixedDuringTraining.begin(), kFixedDuringTraining.end(), name) ==
             kFixedDuringTraining.end();
}

PbtConfig parse_pbt(const yaml::Source& src, const yaml::Entry& section,
                    const hpo::SearchSpace& space) {
  PbtConfig c;
  c.positions["pbt"] = src.where(section.at().Mark());
  const auto entries =
      yaml::entries(src, section.value, "pbt", "`pbt: {population: 8, interval: 100}`");
  for (const auto& e : entries) {
    yaml::check_known(src, e, kKeys);
    c.positions[e.key] = src.where(e.at().Mark());
    // Members on workers are a thread each, on MPI a rank each, all at once; their states are
    // files: the same bound as `population`'s.
    if (e.key == "population") c.options.population = integer(src, e, 2, kMaxPopulation);
    if (e.key == "interval") c.options.interval = integer(src, e, 1);
    if (e.key == "quantile") {
      c.options.quantile = number(src, e.value, "'quantile'", 0, 0.5, true, e.at());
    }
    if (e.key == "resample") {
      c.options.resample = number(src, e.value, "'resample'", 0, 1, false, e.at());
    }
    if (e.key == "factors") {
      if (!e.value.IsSequence() || e.value.size() == 0) {
        src.fail(e.at(), "'factors' is " + yaml::describe(e.value) +
                             ", expected a list of numbers > 0, e.g. [0.8, 1.2]");
      }
      c.options.factors.clear();
      for (const auto& node : e.value) {
        c.options.factors.push_back(number(src, node, "a factor", 0, 1e6, true, node));
      }
    }
    if (e.key == "evolve") {
      Strings names;
      if (e.value.IsScalar()) {
        names.push_back(e.value.Scalar());
      } else if (e.value.IsSequence() && e.value.size() > 0) {
        for (const auto& node : e.value) {
          if (!node.IsScalar()) {
            src.fail(node, "an entry of 'evolve' is " + yaml::describe(node) +
                               ", expected the name of a hyperparameter");
          }
          names.push_back(node.Scalar());
        }
      } else {
        src.fail(e.at(), "'evolve' is " + yaml::describe(e.value) +
                             ", expected a hyperparameter or a list of them, e.g. [lr, momentum]");
      }
      c.options.evolve = names;
    }
  }
  // Every evolving name: a float, integer or choice dimension of the search space that can
  // change during training.
  const std::string at =
      c.positions.contains("evolve") ? c.positions["evolve"] : c.positions["pbt"];
  Strings searched;
  for (const auto& [name, dim] : space.dimensions()) searched.push_back(name);
  // A recipient takes its donor's hyperparameters with its state: every searched one must be one
  // that can change during training (the model's, the batch's... cannot).
  for (const std::string& name : searched) {
    if (!evolvable(name)) {
      throw InvalidArgument(c.positions["pbt"] + "pbt: '" + name +
                            "' is searched, but it cannot change while a member trains (members "
                            "copy each other's state and hyperparameters), expected a fixed '" +
                            name + "' under model: or training:");
    }
  }
  for (const std::string& name : c.options.evolve) {
    if (!find_training_param(name)) {  // no hyperparameter of krill's: a misspelling?
      const auto near = yaml::suggest(name, searched);
      throw InvalidArgument(at + "pbt evolves '" + name + "', which is no hyperparameter" +
                            (near ? ", did you mean '" + *near + "'?" : "") + " (the search has " +
                            (searched.empty() ? std::string("nothing") : yaml::one_of(searched)) +
                            ")");
    }
    if (!evolvable(name)) {
      throw InvalidArgument(at + "pbt cannot evolve '" + name +
                            "': it changes the model, the optimizer or the length of training, "
                            "expected a training hyperparameter such as lr, momentum, "
                            "weight_decay or decay_factor");
    }
    const auto it = std::find(searched.begin(), searched.end(), name);
    if (it == searched.end()) {
      throw InvalidArgument(at + "pbt evolves '" + name + "', which is not under search: (it has " +
                            (searched.empty() ? std::string("nothing") : yaml::one_of(searched)) +
                            "), expected a dimension to start the population from, e.g. " + name +
                            ": {type: float, low: 0.001, high: 0.1, log: true}");
    }
    if (const std::string why = hpo::conditional_evolve_problem(space, name); !why.empty()) {
      throw InvalidArgument(at + "pbt cannot evolve '" + name + "': " + why);
    }
    for (const auto& [n, dim] : space.dimensions()) {
      if (n == name && std::holds_alternative<hpo::GridDim>(dim)) {
        throw InvalidArgument(at + "pbt cannot evolve the grid dimension '" + name +
                              "', expected a float, int or choice dimension");
      }
    }
  }
  return c;
}

std::unique_ptr<hpo::Pbt> make_pbt(const std::optional<PbtConfig>& config,
                                   const hpo::SearchSpace& space, uint64_t seed) {
  if (!config) return nullptr;
  hpo::PbtOptions options = config->options;
  options.seed = seed;
  return std::make_unique<hpo::Pbt>(options, space);
}

}  // namespace krill::tune
