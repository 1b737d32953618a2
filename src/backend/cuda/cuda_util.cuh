// What the CUDA backend's .cu files share: error checks that throw krill::Error, the calling
// thread's stream, cuBLAS handle and scratch memory, and the launch of an element-wise lambda.
// Not installed (it includes CUDA's headers); cuda_backend.hpp is the backend's public face.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace krill::backend::cuda {

// Throws krill::Error naming the call, the error's name and its description.
void check(cudaError_t status, const char* call);
void check(cublasStatus_t status, const char* call);

#define KRILL_CUDA_CHECK(call) ::krill::backend::cuda::check((call), #call)
// After a kernel launch: a bad configuration is reported here, a fault by a later call.
#define KRILL_CUDA_CHECK_LAUNCH(kernel) ::krill::backend::cuda::check(cudaGetLastError(), kernel)

// Every op runs on the calling thread's default stream (kernels of different threads overlap).
inline cudaStream_t stream() {
  return cudaStreamPerThread;
}
void synchronize();

// The calling thread's cuBLAS handle, bound to stream(), with CUBLAS_DEFAULT_MATH (FP32
// throughout, no TF32). Made on first use, destroyed when the thread ends.
cublasHandle_t cublas();

// The calling thread's scratch: `bytes` of device memory, grown when asked for more (the growth
// synchronises, so nothing queued still uses the old block). Contents are not kept across calls.
char* device_scratch(size_t bytes);

// Whether `p` is device (or managed) memory rather than the host's.
bool is_device_memory(const void* p);

// One op's small inputs and results in the thread's device scratch: add() plans the copy of an
// array (host or device memory: labels come from the loader, per-member hyperparameters from the
// trainer), reserve() makes room for results, and upload() makes the copies on the thread's stream
// and returns the device block. Offsets are 16-byte aligned. Host arrays are copied into one of
// the thread's pinned blocks before upload() returns (the caller may reuse them at once) and
// uploaded from there behind the work already queued, without waiting for it; device arrays are
// copied on the device.
class Staging {
 public:
  template <class T>
  size_t add(const T* values, int64_t count) {
    const size_t bytes = static_cast<size_t>(count) * sizeof(T);
    const size_t at = reserve(bytes);
    if (bytes > 0) sources_.push_back({at, values, bytes, is_device_memory(values)});
    return at;
  }
  size_t reserve(size_t bytes);
  char* upload();

 private:
  struct Source {
    size_t at;
    const void* values;
    size_t bytes;
    bool on_device;  // else host memory, uploaded through a pinned block
  };
  size_t size_ = 0;
  std::vector<Source> sources_;
};

// Copies `bytes` from the device to the host and waits for the thread's stream.
void download(void* host, const void* device, size_t bytes);

constexpr int kThreadsPerBlock = 256;
// The most rows of blocks a grid has (gridDim.y): the population kernels give each member one,
// and a larger population goes member by member (Backend's default forms).
constexpr int64_t kMaxGridY = 65535;

inline unsigned blocks_for(int64_t n) {
  const int64_t blocks = (n + kThreadsPerBlock - 1) / kThreadsPerBlock;
  return static_cast<unsigned>(blocks < 65535 * 16 ? (blocks > 0 ? blocks : 1) : 65535 * 16);
}

template <class F>
__global__ void for_each_index_kernel(int64_t n, F f) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    f(i);
  }
}

// f(i) for i in [0, n) on the device (a grid-stride loop); f is a __device__ lambda.
template <class F>
void for_each_index(int64_t n, F f, const char* what) {
  if (n <= 0) return;
  for_each_index_kernel<<<blocks_for(n), kThreadsPerBlock, 0, stream()>>>(n, f);
  KRILL_CUDA_CHECK_LAUNCH(what);
}

// Sums one double per thread of a block into thread 0's return value (blockDim.x a power of two,
// at most kThreadsPerBlock). Every thread of the block must call it.
__device__ inline double block_sum(double value) {
  __shared__ double partial[kThreadsPerBlock];
  partial[threadIdx.x] = value;
  __syncthreads();
  for (unsigned half = blockDim.x / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
    __syncthreads();
  }
  const double total = partial[0];
  __syncthreads();  // the array is reused by the next call
  return total;
}

}  // namespace krill::backend::cuda
