// Checkpoints: a model's weights, its optimizer's state and the training progress, as bytes (PBT
// moves them between members, threads or ranks) or as a file (written atomically: a temporary
// file renamed into place). The format is versioned and checksummed; truncated, corrupt or foreign
// bytes, or a checkpoint of another architecture, are refused with a DataError that says why.
//
// Layout (little-endian): "KRILLCKP" | u32 version | u64 payload bytes | u32 crc32(payload) |
// payload = u32 parameter count, (name, tensor) each | u64 size + the model's state
// (Module::save_state: batch-norm statistics, dropout streams) | optimizer state | i64 iteration |
// f64 base learning rate.
// Version 1 had no model state: it still loads (the model keeps its state: dropout then draws
// other masks than the saved run would have) unless the model requires its state (batch norm).
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "nn/module.hpp"
#include "optim/optimizer.hpp"

namespace krill::train {

inline constexpr uint32_t kCheckpointVersion = 2;  // writes this, reads 1 and 2

struct TrainState {
  int64_t iteration = 0;  // steps done
  double base_lr = 0;     // the learning rate before the schedule
};

std::vector<uint8_t> save_checkpoint(nn::Module& model, const optim::Optimizer& optimizer,
                                     const TrainState& state);
// Loads into an existing model and optimizer of the same architecture; `source` names the bytes
// in errors. A refused checkpoint (DataError) leaves the model (its parameters and state) and the
// optimizer unchanged.
TrainState load_checkpoint(std::span<const uint8_t> bytes, nn::Module& model,
                           optim::Optimizer& optimizer, const std::string& source = "checkpoint");

void save_checkpoint_file(const std::filesystem::path& file, nn::Module& model,
                          const optim::Optimizer& optimizer, const TrainState& state);
// Writes checkpoint bytes (from save_checkpoint, here or on another rank): a new file beside the
// target and renames it into place (a crash leaves the old file).
// A symbolic link is written through (its target replaced, the link kept); DataError where the
// path is not a new or a regular file (a folder, a device, a FIFO: a rename would replace it).
void write_checkpoint_file(const std::filesystem::path& file, std::span<const uint8_t> bytes);
// The file write_checkpoint_file(file) replaces (a link's target), or DataError as it would give:
// a check before training, so that its weights are not lost at the end.
std::filesystem::path checkpoint_target(const std::filesystem::path& file);
// The bytes of a file written by write_checkpoint_file (any format: a PBT member state too).
std::vector<uint8_t> read_checkpoint_file(const std::filesystem::path& file);
TrainState load_checkpoint_file(const std::filesystem::path& file, nn::Module& model,
                                optim::Optimizer& optimizer);

}  // namespace krill::train
