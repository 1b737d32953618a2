// A small synthetic, learnable data set for training tests: `classes` classes of 4x4 images,
// each class lighting a different block of pixels, plus seeded noise.
#pragma once

#include <memory>

#include "core/rng.hpp"
#include "data/dataset.hpp"

namespace krill::testing {

inline data::Dataset synthetic_dataset(int64_t count, int classes, uint64_t seed) {
  auto set = std::make_shared<data::ImageSet>();
  set->count = count;
  set->rows = 4;
  set->cols = 4;
  set->classes = classes;
  set->pixels.resize(static_cast<size_t>(count * 16));
  set->labels.resize(static_cast<size_t>(count));
  Rng rng(seed);
  for (int64_t i = 0; i < count; ++i) {
    const int label = static_cast<int>(rng.below(static_cast<uint64_t>(classes)));
    set->labels[static_cast<size_t>(i)] = label;
    for (int p = 0; p < 16; ++p) {
      const bool lit = p % classes == label;
      const int noise = static_cast<int>(rng.below(80));
      set->pixels[static_cast<size_t>(i * 16 + p)] =
          static_cast<uint8_t>(lit ? 175 + noise : noise);
    }
  }
  return data::Dataset(set);
}

}  // namespace krill::testing
