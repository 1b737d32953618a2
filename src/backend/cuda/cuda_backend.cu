// The CUDA backend's set-up (device check, allocator, per-thread cuBLAS handle and scratch) and its
// GEMMs on cuBLAS. The element-wise, loss and optimizer kernels are in cuda_elementwise.cu, the
// image kernels in cuda_image_ops.cu.
#include <dlfcn.h>

#include <mutex>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <string>

#include "backend/cuda/cuda_backend.hpp"
#include "backend/cuda/cuda_util.cuh"
#include "core/error.hpp"

namespace krill::backend {

namespace cuda {

// cuBLAS is loaded when the backend starts, not when krill does: linked, libcublas and
// libcublasLt (600 MB) cost every krill process 0.8 s and 230 MB at start-up, GPU or not
// (measured: `krill --help`). The few calls krill makes go through these pointers.
struct CublasApi {
  decltype(&cublasCreate_v2) create = nullptr;
  decltype(&cublasDestroy_v2) destroy = nullptr;
  decltype(&cublasSetStream_v2) set_stream = nullptr;
  decltype(&cublasSetMathMode) set_math_mode = nullptr;
  decltype(&cublasSgemm_v2) sgemm = nullptr;
  decltype(&cublasSgemmStridedBatched) sgemm_strided_batched = nullptr;
  decltype(&cublasGetStatusName) status_name = nullptr;
  decltype(&cublasGetStatusString) status_string = nullptr;
};

namespace {

CublasApi api;

template <class F>
void bind(void* library, F& f, const char* name) {
  (void)dlerror();  // a failed dlopen's message is not this lookup's
  f = reinterpret_cast<F>(dlsym(library, name));
  if (!f) {
    const char* why = dlerror();  // null when the symbol exists with a null value
    throw Error(std::string("cuBLAS has no ") + name + ": " + (why ? why : "a null symbol"));
  }
}

}  // namespace

// Loads cuBLAS once, or throws a line saying why. Looked for by the soname of the toolkit krill
// was built with (the loader's path: LD_LIBRARY_PATH, ld.so.conf), then in that toolkit's folder,
// then in /usr/local/cuda/lib64.
void load_cublas() {
  static void* library = nullptr;
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  if (library) return;
  const std::string soname = KRILL_CUBLAS_SONAME;
  void* lib = nullptr;
  for (const std::string& path : {soname, std::string(KRILL_CUDA_LIBRARY_DIR) + "/" + soname,
                                  "/usr/local/cuda/lib64/" + soname}) {
    if ((lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL))) break;
  }
  if (!lib) {
    throw Error("cuBLAS (" + soname + ") could not be loaded from the library path, " +
                KRILL_CUDA_LIBRARY_DIR +
                " or /usr/local/cuda/lib64: put CUDA's lib folder on LD_LIBRARY_PATH, or use "
                "--device cpu");
  }
  bind(lib, api.create, "cublasCreate_v2");
  bind(lib, api.destroy, "cublasDestroy_v2");
  bind(lib, api.set_stream, "cublasSetStream_v2");
  bind(lib, api.set_math_mode, "cublasSetMathMode");
  bind(lib, api.sgemm, "cublasSgemm_v2");
  bind(lib, api.sgemm_strided_batched, "cublasSgemmStridedBatched");
  bind(lib, api.status_name, "cublasGetStatusName");
  bind(lib, api.status_string, "cublasGetStatusString");
  library = lib;
}

void check(cudaError_t status, const char* call) {
  if (status == cudaSuccess) return;
  // A failure that is not sticky (cudaMalloc's out of memory, a bad copy) stays the thread's last
  // error: the next launch check would report it as its own (a caught allocation failure made the
  // next kernel "fail"). Cleared, as PyTorch's allocator does; a sticky error stays.
  (void)cudaGetLastError();
  throw Error(std::string(call) + " failed: " + cudaGetErrorName(status) + " (" +
              cudaGetErrorString(status) + ")");
}

void check(cublasStatus_t status, const char* call) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  throw Error(std::string(call) + " failed: " + api.status_name(status) + " (" +
              api.status_string(status) + ")");
}

void synchronize() {
  KRILL_CUDA_CHECK(cudaStreamSynchronize(stream()));
}

namespace {

// Pinned host memory for Staging::upload. A copy from pageable memory may wait for the work queued
// on the stream (CUDA's "API synchronization behavior"), so every op that takes labels or
// per-member values would make the host wait for the GPU, several times a step. Copied into a
// pinned block first, the upload queues behind that work as a kernel does. A thread uses its
// blocks in turn and rewrites one only after the event recorded behind its last upload, which
// has normally long passed (a training step reads its losses back, and waits, once).
struct PinnedBlock {
  char* host = nullptr;
  size_t bytes = 0;
  cudaEvent_t uploaded = nullptr;
};
// Enough for the uploads of one step of a deep model between two waits for its losses: an
// optimizer update per parameter tensor (a CNN with batch norm has 20 and more), labels and batch
// indices; a block is 64 KiB until a larger upload grows it, and is made when first used.
constexpr int kPinnedBlocks = 64;

// The thread's cuBLAS handle, scratch block and pinned blocks, released when the thread ends
// (errors ignored there: at the process's exit the CUDA runtime may already be gone).
struct ThreadResources {
  cublasHandle_t handle = nullptr;
  char* scratch = nullptr;
  size_t scratch_bytes = 0;
  PinnedBlock pinned[kPinnedBlocks];
  int next_pinned = 0;

  ~ThreadResources() {
    if (handle) api.destroy(handle);
    if (scratch) cudaFree(scratch);
    for (PinnedBlock& b : pinned) {
      if (b.uploaded) cudaEventDestroy(b.uploaded);
      if (b.host) cudaFreeHost(b.host);
    }
  }
};

thread_local ThreadResources resources;

}  // namespace

cublasHandle_t cublas() {
  if (!resources.handle) {
    cublasHandle_t handle = nullptr;
    KRILL_CUDA_CHECK(api.create(&handle));
    try {
      KRILL_CUDA_CHECK(api.set_stream(handle, stream()));
      // FP32 arithmetic, never TF32 (which CUBLAS_TF32_TENSOR_OP_MATH would allow): parity with
      // the CPU backend matters more than the tensor cores' speed on krill's small products.
      KRILL_CUDA_CHECK(api.set_math_mode(handle, CUBLAS_DEFAULT_MATH));
    } catch (...) {
      api.destroy(handle);  // kept, it would run on the legacy stream with default settings
      throw;
    }
    resources.handle = handle;
  }
  return resources.handle;
}

char* device_scratch(size_t bytes) {
  if (bytes > resources.scratch_bytes) {
    const size_t grown = std::max(bytes, 2 * resources.scratch_bytes);
    if (resources.scratch) {
      synchronize();
      KRILL_CUDA_CHECK(cudaFree(resources.scratch));
      resources.scratch = nullptr;
      resources.scratch_bytes = 0;
    }
    void* p = nullptr;
    KRILL_CUDA_CHECK(cudaMalloc(&p, grown));
    resources.scratch = static_cast<char*>(p);
    resources.scratch_bytes = grown;
  }
  return resources.scratch;
}

size_t Staging::reserve(size_t bytes) {
  const size_t at = size_;
  size_ += (bytes + 15) / 16 * 16;
  return at;
}

bool is_device_memory(const void* p) {
  cudaPointerAttributes attributes{};
  KRILL_CUDA_CHECK(cudaPointerGetAttributes(&attributes, p));
  return attributes.type == cudaMemoryTypeDevice || attributes.type == cudaMemoryTypeManaged;
}

namespace {

// The thread's next pinned block, at least `bytes` long, free to be written.
PinnedBlock& next_pinned_block(size_t bytes) {
  PinnedBlock& b = resources.pinned[resources.next_pinned];
  resources.next_pinned = (resources.next_pinned + 1) % kPinnedBlocks;
  if (b.uploaded) KRILL_CUDA_CHECK(cudaEventSynchronize(b.uploaded));
  if (!b.uploaded) KRILL_CUDA_CHECK(cudaEventCreateWithFlags(&b.uploaded, cudaEventDisableTiming));
  if (b.bytes < bytes) {
    const size_t grown = std::max({bytes, 2 * b.bytes, size_t{64 * 1024}});
    if (b.host) KRILL_CUDA_CHECK(cudaFreeHost(b.host));
    b.host = nullptr;
    b.bytes = 0;
    void* p = nullptr;
    KRILL_CUDA_CHECK(cudaHostAlloc(&p, grown, cudaHostAllocDefault));
    b.host = static_cast<char*>(p);
    b.bytes = grown;
  }
  return b;
}

}  // namespace

// Host sources go through a pinned block at their offsets, uploaded in one copy; device sources
// are copied on the device after it, so that copy's span (which may cross their places) does
// not overwrite them.
char* Staging::upload() {
  char* block = device_scratch(size_ == 0 ? 16 : size_);
  PinnedBlock* pinned = nullptr;
  size_t begin = size_, end = 0;
  for (const Source& s : sources_) {
    if (s.on_device) continue;
    if (!pinned) pinned = &next_pinned_block(size_);
    std::memcpy(pinned->host + s.at, s.values, s.bytes);
    begin = std::min(begin, s.at);
    end = std::max(end, s.at + s.bytes);
  }
  if (pinned) {
    KRILL_CUDA_CHECK(cudaMemcpyAsync(block + begin, pinned->host + begin, end - begin,
                                     cudaMemcpyHostToDevice, stream()));
    KRILL_CUDA_CHECK(cudaEventRecord(pinned->uploaded, stream()));
  }
  for (const Source& s : sources_) {
    if (!s.on_device) continue;
    KRILL_CUDA_CHECK(
        cudaMemcpyAsync(block + s.at, s.values, s.bytes, cudaMemcpyDeviceToDevice, stream()));
  }
  return block;
}

void download(void* host, const void* device, size_t bytes) {
  if (bytes > 0) {
    KRILL_CUDA_CHECK(cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost, stream()));
  }
  synchronize();
}

}  // namespace cuda

namespace {

using cuda::stream;
using cuda::synchronize;

std::string gib(size_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f GiB", static_cast<double>(bytes) / (1024.0 * 1024 * 1024));
  return text;
}

// Device memory for tensors. Copies and fills run on the calling thread's stream and are complete
// on return (core/device.hpp's contract). They do not wait for kernels another thread queued on its
// own stream: that thread calls Backend::synchronize() before handing its tensors over.
class CudaAllocator final : public Allocator {
 public:
  void* allocate(size_t bytes) override {
    void* p = nullptr;
    const cudaError_t status = cudaMalloc(&p, bytes);
    if (status == cudaErrorMemoryAllocation) {
      size_t free = 0, total = 0;
      (void)cudaGetLastError();
      (void)cudaMemGetInfo(&free, &total);
      throw Error("out of GPU memory: " + gib(bytes) + " asked for, " + gib(free) + " free of " +
                  gib(total));
    }
    KRILL_CUDA_CHECK(status);
    return p;
  }
  void deallocate(void* p) noexcept override { cudaFree(p); }
  void copy_from_host(void* dst, const void* host, size_t bytes) override {
    copy_and_wait(dst, host, bytes, cudaMemcpyHostToDevice);
  }
  void copy_to_host(void* host, const void* src, size_t bytes) override {
    copy_and_wait(host, src, bytes, cudaMemcpyDeviceToHost);
  }
  void copy(void* dst, const void* src, size_t bytes) override {
    copy_and_wait(dst, src, bytes, cudaMemcpyDeviceToDevice);
  }
  void fill(float* dst, size_t count, float value) override {
    cuda::for_each_index(
        static_cast<int64_t>(count), [=] __device__(int64_t i) { dst[i] = value; }, "fill");
    synchronize();
  }

 private:
  static void copy_and_wait(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
    if (bytes == 0) return;
    KRILL_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, kind, stream()));
    synchronize();
  }
};

CudaAllocator cuda_allocator;

cublasOperation_t op(Transpose t) {
  return t == Transpose::Yes ? CUBLAS_OP_T : CUBLAS_OP_N;
}

int blas_int(int64_t v, const char* what) {
  if (v < 0 || v > INT_MAX) {
    throw InvalidArgument(std::string("cuda gemm: ") + what + " = " + std::to_string(v) +
                          " is outside cuBLAS's int range");
  }
  return static_cast<int>(v);
}

}  // namespace

std::string cublas_problem() {
  try {
    cuda::load_cublas();
    return "";
  } catch (const Error& e) {
    return e.what();
  }
}

CudaBackend::CudaBackend() {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    cudaGetLastError();  // not sticky: leave no error for the next call
    throw Error(std::string("no CUDA device: cudaGetDeviceCount says ") +
                cudaGetErrorString(status) + "; use --device cpu");
  }
  if (count == 0) {
    throw Error("no CUDA device: cudaGetDeviceCount found none; use --device cpu");
  }
  // A device can be listed and still refuse a context (exclusive or prohibited compute mode, a MIG
  // GPU without an instance): make the context now, so that such a device is refused here.
  if (const cudaError_t context = cudaFree(nullptr); context != cudaSuccess) {
    cudaGetLastError();
    throw Error(std::string("no usable CUDA device: creating its context failed: ") +
                cudaGetErrorName(context) + " (" + cudaGetErrorString(context) +
                "); use --device cpu");
  }
  cuda::load_cublas();
  set_allocator(Device::Cuda, &cuda_allocator);
}

CudaBackend& cuda_backend() {
  static CudaBackend instance;  // a constructor that throws is tried again on the next call
  return instance;
}

void CudaBackend::synchronize() {
  cuda::synchronize();
}

void CudaBackend::set_threads(int threads) {
  if (threads < 1)
    throw InvalidArgument("threads must be at least 1, got " + std::to_string(threads));
}

// Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: cuBLAS (column-major) is given
// B first, then A, with m and n swapped; the leading dimensions stay as they are.
void CudaBackend::gemm(Transpose ta, Transpose tb, int64_t m, int64_t n, int64_t k, float alpha,
                       const float* a, int64_t lda, const float* b, int64_t ldb, float beta,
                       float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  KRILL_CUDA_CHECK(cuda::api.sgemm(
      cuda::cublas(), op(tb), op(ta), blas_int(n, "n"), blas_int(m, "m"), blas_int(k, "k"), &alpha,
      b, blas_int(ldb, "ldb"), a, blas_int(lda, "lda"), &beta, c, blas_int(ldc, "ldc")));
}

void CudaBackend::gemm_strided_batched(Transpose ta, Transpose tb, int64_t m, int64_t n, int64_t k,
                                       float alpha, const float* a, int64_t lda, int64_t stride_a,
                                       const float* b, int64_t ldb, int64_t stride_b, float beta,
                                       float* c, int64_t ldc, int64_t stride_c, int64_t count) {
  if (m == 0 || n == 0 || count == 0) return;
  KRILL_CUDA_CHECK(cuda::api.sgemm_strided_batched(
      cuda::cublas(), op(tb), op(ta), blas_int(n, "n"), blas_int(m, "m"), blas_int(k, "k"), &alpha,
      b, blas_int(ldb, "ldb"), stride_b, a, blas_int(lda, "lda"), stride_a, &beta, c,
      blas_int(ldc, "ldc"), stride_c, blas_int(count, "count")));
}

}  // namespace krill::backend
