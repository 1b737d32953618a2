#include "core/rng.hpp"

#include <cmath>

#include "core/serialize.hpp"

namespace krill {

namespace {

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

}  // namespace

Rng::Rng(uint64_t seed) {
  for (auto& s : s_) s = splitmix64(seed);
}

uint64_t Rng::next_u64() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Rng::uniform() {
  return static_cast<double>(next_u64() >> 11) * 0x1.0p-53;
}

float Rng::uniform(float lo, float hi) {
  // In double, then rounded to float: the rounding can reach hi, which [lo, hi) excludes.
  const float r = static_cast<float>(lo + uniform() * (static_cast<double>(hi) - lo));
  return r < hi ? r : std::nextafter(hi, lo);
}

uint64_t Rng::below(uint64_t n) {
  // Lemire's nearly divisionless method.
  __uint128_t m = static_cast<__uint128_t>(next_u64()) * n;
  uint64_t low = static_cast<uint64_t>(m);
  if (low < n) {
    uint64_t threshold = -n % n;
    while (low < threshold) {
      m = static_cast<__uint128_t>(next_u64()) * n;
      low = static_cast<uint64_t>(m);
    }
  }
  return static_cast<uint64_t>(m >> 64);
}

double Rng::normal() {
  // Marsaglia's polar method; the second value is kept for the next call.
  if (has_spare_) {
    has_spare_ = false;
    return spare_normal_;
  }
  double u, v, s;
  do {
    u = 2.0 * uniform() - 1.0;
    v = 2.0 * uniform() - 1.0;
    s = u * u + v * v;
  } while (s >= 1.0 || s == 0.0);
  double f = std::sqrt(-2.0 * std::log(s) / s);
  spare_normal_ = v * f;
  has_spare_ = true;
  return u * f;
}

uint64_t Rng::derive(uint64_t seed, uint64_t stream) {
  uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ULL);
  splitmix64(x);
  return splitmix64(x);
}

void Rng::save(BinaryWriter& out) const {
  for (uint64_t word : s_) out.u64(word);
  out.f64(spare_normal_);
  out.u8(has_spare_ ? 1 : 0);
}

void Rng::load(BinaryReader& in) {
  uint64_t words[4];
  for (auto& word : words) word = in.u64("generator state");
  const double spare = in.f64("generator spare normal");
  const uint8_t has_spare = in.u8("generator has spare");
  if ((words[0] | words[1] | words[2] | words[3]) == 0) {
    in.fail("generator state: all zero, which xoshiro256** never reaches");
  }
  if (has_spare > 1)
    in.fail("generator has spare: " + std::to_string(has_spare) + " is not 0 or 1");
  for (int i = 0; i < 4; ++i) s_[i] = words[i];
  spare_normal_ = spare;
  has_spare_ = has_spare == 1;
}

}  // namespace krill
