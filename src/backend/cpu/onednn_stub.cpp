// A build without oneDNN: every GEMM and convolution declines, so the CPU backend takes im2col +
// GEMM.
#include "backend/cpu/onednn.hpp"

#include "core/error.hpp"

namespace krill::backend {

bool onednn_gemm(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
                 int64_t, float, float*, int64_t) {
  return false;
}

bool onednn_conv2d_supported(const Conv2dGeometry&, int64_t) {
  return false;
}

bool onednn_conv2d_data_supported(const Conv2dGeometry&, int64_t) {
  return false;
}

void onednn_conv2d_forward(const Conv2dGeometry&, int64_t, const float*, const float*, const float*,
                           float*) {
  throw Error(
      "convolution on oneDNN: krill was built without oneDNN (apt-get install libdnnl-dev)");
}

void onednn_conv2d_backward(const Conv2dGeometry&, int64_t, const float*, const float*,
                            const float*, float*, float*, float*) {
  throw Error(
      "convolution on oneDNN: krill was built without oneDNN (apt-get install libdnnl-dev)");
}

}  // namespace krill::backend
