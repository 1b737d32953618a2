// The models and optimizers the checkpoint fuzzer loads into, shared with the seed generator
// (seeds.cpp) so that its checkpoints fit them: a small MLP with SGD (momentum: velocity
// buffers) and with Adam (two moments per parameter).
#pragma once

#include <memory>
#include <string>

#include "nn/model_spec.hpp"
#include "optim/adam.hpp"
#include "optim/optimizer.hpp"
#include "optim/sgd.hpp"

namespace krill::fuzz {

inline constexpr int64_t kCheckpointInputs = 6;
inline constexpr int kCheckpointClasses = 3;

struct Member {
  std::unique_ptr<nn::Sequential> model;
  std::unique_ptr<optim::Optimizer> optimizer;
};

// optimizer: "sgd" or "adam".
inline Member make_member(const std::string& optimizer) {
  Member m;
  m.model = nn::build_model(nn::parse_model_spec("mlp:4"), kCheckpointInputs, kCheckpointClasses,
                            /*seed=*/1);
  if (optimizer == "adam") {
    m.optimizer = std::make_unique<optim::Adam>(m.model->parameters(), optim::AdamOptions{});
  } else {
    m.optimizer = std::make_unique<optim::Sgd>(m.model->parameters(),
                                               optim::SgdOptions{.lr = 0.1, .momentum = 0.9});
  }
  return m;
}

}  // namespace krill::fuzz
