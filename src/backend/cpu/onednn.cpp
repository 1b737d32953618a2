#include "backend/cpu/onednn.hpp"

#include <omp.h>

#include <algorithm>
#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <optional>
#include <tuple>
#include <vector>

#include "backend/cpu/parallel.hpp"

namespace krill::backend {

namespace {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

// A convolution's three primitives for one geometry, batch and thread count, with the buffers of
// the operands oneDNN wants in its own layout.
class Convolution {
 public:
  Convolution(const Conv2dGeometry& g, int64_t batch, bool with_data)
      : engine_(dnnl::engine::kind::cpu, 0), stream_(engine_) {
    const dnnl::memory::dims src{batch, g.input.channels, g.input.height, g.input.width};
    const dnnl::memory::dims wei{g.out_channels, g.input.channels, g.kernel, g.kernel};
    const dnnl::memory::dims dst{batch, g.out_channels, g.out_height(), g.out_width()};
    const dnnl::memory::dims strides{g.stride, g.stride}, pad{g.padding, g.padding};
    user_src_ = {src, dt::f32, tag::nchw};
    user_wei_ = {wei, dt::f32, tag::oihw};
    user_dst_ = {dst, dt::f32, tag::nchw};
    user_bias_ = {{g.out_channels}, dt::f32, tag::x};
    const dnnl::memory::desc src_any{src, dt::f32, tag::any}, wei_any{wei, dt::f32, tag::any},
        dst_any{dst, dt::f32, tag::any};
    const auto algo = dnnl::algorithm::convolution_direct;
    fwd_pd_ = {{dnnl::prop_kind::forward_training, algo, src_any, wei_any, user_bias_, dst_any,
                strides, pad, pad},
               engine_};
    bwd_weights_pd_ = {
        {algo, src_any, wei_any, user_bias_, dst_any, strides, pad, pad}, engine_, fwd_pd_};
    fwd_ = dnnl::convolution_forward(fwd_pd_);
    bwd_weights_ = dnnl::convolution_backward_weights(bwd_weights_pd_);
    if (with_data) {
      bwd_data_pd_ = dnnl::convolution_backward_data::primitive_desc(
          {algo, src_any, wei_any, dst_any, strides, pad, pad}, engine_, fwd_pd_);
      bwd_data_ = dnnl::convolution_backward_data(*bwd_data_pd_);
    }
  }

  bool has_data() const { return bwd_data_.has_value(); }

  void forward(const float* x, const float* w, const float* b, float* y) {
    auto src = in(user_src_, x, fwd_pd_.src_desc(), src_buf_);
    auto wei = in(user_wei_, w, fwd_pd_.weights_desc(), wei_buf_);
    auto dst = out_memory(fwd_pd_.dst_desc(), user_dst_, y, dst_buf_);
    fwd_.execute(stream_, {{DNNL_ARG_SRC, src},
                           {DNNL_ARG_WEIGHTS, wei},
                           {DNNL_ARG_BIAS, user(user_bias_, b)},
                           {DNNL_ARG_DST, dst}});
    out(dst, user_dst_, y);
    stream_.wait();
  }

  // The output gradient is reordered once for both backward primitives when they want the same
  // layout (they do on AVX-512).
  void backward(const float* x, const float* dy, const float* w, float* dw, float* db, float* dx) {
    auto src = in(user_src_, x, bwd_weights_pd_.src_desc(), src_buf_);
    auto diff_dst = in(user_dst_, dy, bwd_weights_pd_.diff_dst_desc(), dst_buf_);
    auto diff_wei = out_memory(bwd_weights_pd_.diff_weights_desc(), user_wei_, dw, diff_wei_buf_);
    bwd_weights_.execute(stream_, {{DNNL_ARG_SRC, src},
                                   {DNNL_ARG_DIFF_DST, diff_dst},
                                   {DNNL_ARG_DIFF_WEIGHTS, diff_wei},
                                   {DNNL_ARG_DIFF_BIAS, user(user_bias_, db)}});
    out(diff_wei, user_wei_, dw);
    if (dx) {
      const auto& pd = *bwd_data_pd_;
      if (pd.diff_dst_desc() != diff_dst.get_desc()) {
        diff_dst = in(user_dst_, dy, pd.diff_dst_desc(), data_dst_buf_);
      }
      auto wei = in(user_wei_, w, pd.weights_desc(), wei_buf_);
      auto diff_src = out_memory(pd.diff_src_desc(), user_src_, dx, diff_src_buf_);
      bwd_data_->execute(
          stream_,
          {{DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DIFF_SRC, diff_src}});
      out(diff_src, user_src_, dx);
    }
    stream_.wait();
  }

 private:
  dnnl::memory user(const dnnl::memory::desc& md, const float* p) {
    return {md, engine_, const_cast<float*>(p)};  // read-only for inputs; oneDNN takes void*
  }
  // krill's array as an operand in the layout `want`, reordered into `buf` if that is another.
  dnnl::memory in(const dnnl::memory::desc& user_md, const float* p, const dnnl::memory::desc& want,
                  std::vector<float>& buf) {
    auto mem = user(user_md, p);
    if (want == user_md) return mem;
    buf.resize(want.get_size() / sizeof(float));
    dnnl::memory converted(want, engine_, buf.data());
    dnnl::reorder(mem, converted).execute(stream_, mem, converted);
    return converted;
  }
  dnnl::memory out_memory(const dnnl::memory::desc& have, const dnnl::memory::desc& user_md,
                          float* p, std::vector<float>& buf) {
    if (have == user_md) return user(user_md, p);
    buf.resize(have.get_size() / sizeof(float));
    return {have, engine_, buf.data()};
  }
  void out(dnnl::memory produced, const dnnl::memory::desc& user_md, float* p) {
    if (produced.get_desc() == user_md) return;
    auto mem = user(user_md, p);
    dnnl::reorder(produced, mem).execute(stream_, produced, mem);
  }

  dnnl::engine engine_;
  dnnl::stream stream_;
  dnnl::memory::desc user_src_, user_wei_, user_dst_, user_bias_;
  dnnl::convolution_forward::primitive_desc fwd_pd_;
  dnnl::convolution_backward_weights::primitive_desc bwd_weights_pd_;
  std::optional<dnnl::convolution_backward_data::primitive_desc> bwd_data_pd_;
  dnnl::convolution_forward fwd_;
  dnnl::convolution_backward_weights bwd_weights_;
  std::optional<dnnl::convolution_backward_data> bwd_data_;
  std::vector<float> src_buf_, wei_buf_, dst_buf_, data_dst_buf_, diff_wei_buf_, diff_src_buf_;
};

constexpr int64_t kMinDataChannels = 16;

// GEMMs with a side under this go to OpenBLAS: the MLP's last layer (10 outputs) took oneDNN 2-3x
// longer (its packing does not pay for so little work).
constexpr int64_t kMinGemmSide = 16;

using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int>;

Key key_of(const Conv2dGeometry& g, int64_t batch) {
  return {g.input.channels, g.input.height, g.input.width, g.out_channels, g.kernel,
          g.stride,         g.padding,      batch,         tl_threads};
}

struct CacheEntry {
  Key key;
  std::unique_ptr<Convolution> conv;  // null: oneDNN refused the geometry
};

// The calling thread's primitives, most recently used last; a handful of entries covers a model's
// layers at its training, last-batch and evaluation sizes.
constexpr size_t kCacheSize = 32;
thread_local std::vector<CacheEntry> tl_cache;

Convolution* find(const Conv2dGeometry& g, int64_t batch) {
  if (batch <= 0) return nullptr;
  const Key key = key_of(g, batch);
  auto it = std::find_if(tl_cache.begin(), tl_cache.end(),
                         [&](const CacheEntry& e) { return e.key == key; });
  if (it != tl_cache.end()) {
    std::rotate(it, it + 1, tl_cache.end());
    return tl_cache.back().conv.get();
  }
  std::unique_ptr<Convolution> conv;
  try {
    conv = std::make_unique<Convolution>(g, batch, g.input.channels >= kMinDataChannels);
  } catch (const dnnl::error&) {
    conv = nullptr;  // no implementation for this geometry: im2col does it
  }
  if (tl_cache.size() == kCacheSize) tl_cache.erase(tl_cache.begin());
  tl_cache.push_back({key, std::move(conv)});
  return tl_cache.back().conv.get();
}

}  // namespace

bool onednn_gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha,
                 const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                 int64_t ldc) {
  // On a team of threads OpenBLAS: the two were even per product and OpenBLAS faster over an MLP
  // epoch on 2 threads (1.17 s against 1.31 s at batch 32). Inside a team (the im2col path's
  // per-sample products) each call is single-threaded, oneDNN's case.
  if (tl_threads > 1 && !omp_in_parallel()) return false;
  if (std::min({m, n, k}) < kMinGemmSide) return false;
  return dnnl_sgemm(transpose_a ? 'T' : 'N', transpose_b ? 'T' : 'N', m, n, k, alpha, a, lda, b,
                    ldb, beta, c, ldc) == dnnl_success;
}

bool onednn_conv2d_supported(const Conv2dGeometry& g, int64_t batch) {
  return find(g, batch) != nullptr;
}

bool onednn_conv2d_data_supported(const Conv2dGeometry& g, int64_t batch) {
  const Convolution* conv = find(g, batch);
  return conv && conv->has_data();
}

void onednn_conv2d_forward(const Conv2dGeometry& g, int64_t batch, const float* x, const float* w,
                           const float* bias, float* y) {
  find(g, batch)->forward(x, w, bias, y);
}

void onednn_conv2d_backward(const Conv2dGeometry& g, int64_t batch, const float* x, const float* dy,
                            const float* w, float* dw, float* db, float* dx) {
  find(g, batch)->backward(x, dy, w, dw, db, dx);
}

}  // namespace krill::backend
