// Trainable: what Population Based Training needs from a running objective, declared here so that
// hpo drives it without knowing what trains (tune implements it for the training engine). A
// member's state is bytes: its weights, optimizer state, progress (steps done) and
// hyperparameters, so that it can be copied between threads, sent between MPI ranks and written to
// disk to resume.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "hpo/param.hpp"

namespace krill::hpo {

class Trainable {
 public:
  virtual ~Trainable() = default;
  // The state now (between two steps).
  virtual std::vector<uint8_t> save() = 0;
  // Replaces the state with one from save() (of this trainable or a peer of the same
  // architecture, at the same step); throws DataError for bytes it cannot take, and then leaves
  // the state unchanged.
  virtual void load(std::span<const uint8_t> bytes) = 0;
  // New hyperparameters from the next step on (a learning rate replaces the schedule's base
  // rate). Throws InvalidArgument for one that cannot change during training.
  virtual void set_params(const Params& params) = 0;
  virtual Params params() const = 0;  // the hyperparameters now (PBT may have changed them)
  virtual int64_t step() const = 0;   // steps done
};

}  // namespace krill::hpo
