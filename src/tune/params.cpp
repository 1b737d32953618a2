#include "tune/params.hpp"

#include <array>

namespace krill::tune {

namespace {
constexpr std::array<ParamInfo, 21> kParams{{
    {"lr", ParamKind::Float, "training", "initial learning rate (> 0)"},
    {"momentum", ParamKind::Float, "training", "SGD momentum in [0, 1)"},
    {"weight_decay", ParamKind::Float, "training", "L2 weight decay (>= 0)"},
    {"nesterov", ParamKind::Int, "training", "1 for Nesterov momentum, 0 without"},
    {"optimizer", ParamKind::String, "training", "sgd or adam"},
    {"batch", ParamKind::Int, "training", "batch size"},
    {"epochs", ParamKind::Int, "training", "epochs (unless iterations is set)"},
    {"iterations", ParamKind::Int, "training", "training steps (overrides epochs)"},
    {"eval_every", ParamKind::Int, "training", "a learning-curve point every N iterations"},
    {"schedule", ParamKind::String, "training", "constant, step, exp or cosine"},
    {"decay_every", ParamKind::Int, "training", "step schedule: iterations between decays"},
    {"decay_factor", ParamKind::Float, "training", "step schedule: factor per decay, in (0, 1]"},
    {"gamma", ParamKind::Float, "training", "exp schedule: factor per iteration, in (0, 1]"},
    {"warmup", ParamKind::Int, "training", "cosine schedule: warm-up iterations"},
    {"min_factor", ParamKind::Float, "training", "cosine schedule: final rate / initial rate"},
    {"hidden", ParamKind::String, "model", "hidden widths, e.g. \"512,256\" (or use width+depth)"},
    {"width", ParamKind::Int, "model", "width of every hidden layer (with depth)"},
    {"depth", ParamKind::Int, "model", "number of hidden layers (with width)"},
    {"activation", ParamKind::String, "model", "relu, sigmoid or tanh"},
    {"dropout", ParamKind::Float, "model", "dropout after each hidden layer, in [0, 1)"},
    {"init", ParamKind::String, "model", "he, glorot or torch"},
}};
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

}  // namespace krill::tune
