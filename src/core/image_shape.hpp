// ImageShape: the [channels, height, width] of one image. A batch of images is a row-major
// [batch, C*H*W] tensor whose rows are samples in C, H, W order (PyTorch's NCHW, flattened per
// sample); image layers and kernels read the per-sample shape from here.
#pragma once

#include <cstdint>
#include <string>

namespace krill {

struct ImageShape {
  int64_t channels = 0;
  int64_t height = 0;
  int64_t width = 0;

  int64_t plane() const { return height * width; }      // pixels of one channel
  int64_t numel() const { return channels * plane(); }  // values of one sample
  std::string to_string() const {                       // "[1, 28, 28]"
    std::string s = "[";
    s += std::to_string(channels);
    s += ", ";
    s += std::to_string(height);
    s += ", ";
    s += std::to_string(width);
    return s + "]";
  }
  bool operator==(const ImageShape&) const = default;
};

}  // namespace krill
