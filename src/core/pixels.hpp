// The one conversion of image bytes to the floats a model reads: value * (1.0f / 255), a single
// rounding (255 * kPixelScale rounds to exactly 1.0f). data::Dataset::gather and every backend's
// gather_images use it, so a batch has the same bits whoever makes it; the CUDA kernel multiplies
// by kPixelScale with fused multiply-adds off (one rounding as here).
#pragma once

#include <cstdint>

namespace krill {

constexpr float kPixelScale = 1.0f / 255.0f;

// dst[j] = src[j] * kPixelScale for j in [0, n).
inline void pixels_to_floats(const uint8_t* src, int64_t n, float* dst) {
  for (int64_t j = 0; j < n; ++j) dst[j] = static_cast<float>(src[j]) * kPixelScale;
}

}  // namespace krill
