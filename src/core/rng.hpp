// Rng: a small, fast, seedable generator (xoshiro256**, seeded by SplitMix64) with its own
// distributions, so that a seed gives the same numbers with every standard library
// (std::normal_distribution and std::shuffle are implementation-defined).
#pragma once

#include <cstdint>
#include <span>

namespace krill {

class BinaryReader;
class BinaryWriter;

class Rng {
 public:
  explicit Rng(uint64_t seed = 0);

  uint64_t next_u64();
  double uniform();                   // [0, 1)
  float uniform(float lo, float hi);  // [lo, hi)
  uint64_t below(uint64_t n);         // [0, n), unbiased; n > 0
  double normal();                    // mean 0, standard deviation 1
  template <class T>
  void shuffle(std::span<T> v) {  // Fisher-Yates
    for (size_t i = v.size(); i > 1; --i) {
      size_t j = static_cast<size_t>(below(i));
      T tmp = v[i - 1];
      v[i - 1] = v[j];
      v[j] = tmp;
    }
  }
  // A generator for a sub-stream (e.g. one per epoch or per layer), independent of this one's
  // state.
  static uint64_t derive(uint64_t seed, uint64_t stream);

  // The whole state (for checkpoints): a loaded generator continues the saved one's stream exactly.
  // load throws DataError (and keeps this state) for bytes that are not a generator's state.
  void save(BinaryWriter& out) const;
  void load(BinaryReader& in);

 private:
  uint64_t s_[4];
  double spare_normal_ = 0.0;
  bool has_spare_ = false;
};

}  // namespace krill
