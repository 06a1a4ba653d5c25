// 2-D max pooling (NHWC) and its gradient. The forward pass runs oneDNN's
// pooling primitive (cached per geometry) where it takes the geometry, and
// otherwise, like the gradient, plain loops over the channel axis
// (contiguous in NHWC, so they vectorise), parallel over images and rows.
// Padding never wins the max (as in TensorFlow.js); of equal values in a
// window the first in row-major window order takes the gradient.
#include <limits>
#include <string>
#include <vector>

#include "engine.h"
#include "kernels.h"
#include "napi-util.h"

namespace vicinal {
namespace {

// Geometry as the TypeScript side packs it: batch, inH, inW, channels,
// outH, outW, windowH, windowW, strideH, strideW, padTop, padLeft.
struct PoolGeometry {
  int64_t batch, in_h, in_w, c, out_h, out_w, k_h, k_w, stride_h, stride_w, pad_top, pad_left;
};
constexpr size_t kPoolFields = 12;

PoolGeometry read_pool_geometry(napi_env env, napi_value value) {
  const int32_t* v = packed_ints(env, value, kPoolFields, "geometry");
  for (size_t i = 0; i < 10; i++) {
    if (v[i] < 1) throw ArgumentError("geometry: sizes and strides must be >= 1");
  }
  if (v[10] < 0 || v[11] < 0) throw ArgumentError("geometry: padding must be >= 0");
  return PoolGeometry{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11]};
}

size_t input_size(const PoolGeometry& g) { return g.batch * g.in_h * g.in_w * g.c; }
size_t output_size(const PoolGeometry& g) { return g.batch * g.out_h * g.out_w * g.c; }

// The window rows (or columns) [begin, end) of output index o inside the input.
inline void window(int64_t o, int64_t stride, int64_t pad, int64_t k, int64_t limit,
                   int64_t* begin, int64_t* end) {
  int64_t start = o * stride - pad;
  *begin = start < 0 ? 0 : start;
  *end = start + k > limit ? limit : start + k;
}

// ---- forward on oneDNN -----------------------------------------------------

struct Pooling {
  dnnl::pooling_forward primitive;
  dnnl::memory src, dst;
};

PrimitiveCache<Pooling>& pooling_cache() {
  static PrimitiveCache<Pooling> cache;
  return cache;
}

std::unique_ptr<Pooling> make_pooling(const PoolGeometry& g) {
  using dnnl::memory;
  memory::desc src({g.batch, g.c, g.in_h, g.in_w}, memory::data_type::f32,
                   memory::format_tag::nhwc);
  memory::desc dst({g.batch, g.c, g.out_h, g.out_w}, memory::data_type::f32,
                   memory::format_tag::nhwc);
  // The padding after the last window; none where the windows stop short of
  // the edge (oneDNN then checks that the output size still agrees).
  auto after = [](int64_t out, int64_t stride, int64_t k, int64_t in, int64_t before) {
    int64_t pad = (out - 1) * stride + k - in - before;
    return pad > 0 ? pad : 0;
  };
  dnnl::pooling_forward::desc desc(
      dnnl::prop_kind::forward_inference, dnnl::algorithm::pooling_max, src, dst,
      {g.stride_h, g.stride_w}, {g.k_h, g.k_w}, {g.pad_top, g.pad_left},
      {after(g.out_h, g.stride_h, g.k_h, g.in_h, g.pad_top),
       after(g.out_w, g.stride_w, g.k_w, g.in_w, g.pad_left)});
  dnnl::pooling_forward::primitive_desc pd(desc, engine().cpu);
  return std::make_unique<Pooling>(
      Pooling{dnnl::pooling_forward(pd), borrowed(src), borrowed(dst)});
}

// Runs the oneDNN primitive for `g`; false (nothing written) when oneDNN has none.
bool max_pool_onednn(const PoolGeometry& g, float* x, float* y) {
  std::lock_guard<std::mutex> hold(native_lock());
  Key key{4,     g.batch, g.in_h,     g.in_w,     g.c,       g.out_h,   g.out_w,
          g.k_h, g.k_w,   g.stride_h, g.stride_w, g.pad_top, g.pad_left};
  Pooling* p = pooling_cache().get(key, [&] { return make_pooling(g); });
  if (!p) return false;
  p->src.set_data_handle(x);
  p->dst.set_data_handle(y);
  auto& stream = engine().stream;
  p->primitive.execute(stream, {{DNNL_ARG_SRC, p->src}, {DNNL_ARG_DST, p->dst}});
  stream.wait();
  return true;
}

// maxPool(geometry, x, out)
napi_value max_pool(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  arguments(env, info, 3, argv, "maxPool");
  PoolGeometry g = read_pool_geometry(env, argv[0]);
  View<float> x = typed_array<float>(env, argv[1], "x");
  View<float> y = typed_array<float>(env, argv[2], "out");
  require_length("x", x.length, input_size(g));
  require_length("out", y.length, output_size(g));
  if (max_pool_onednn(g, x.data, y.data)) return nullptr;
  const float lowest = -std::numeric_limits<float>::infinity();
  const int64_t c = g.c;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < g.batch; b++) {
    for (int64_t oh = 0; oh < g.out_h; oh++) {
      int64_t h0, h1;
      window(oh, g.stride_h, g.pad_top, g.k_h, g.in_h, &h0, &h1);
      for (int64_t ow = 0; ow < g.out_w; ow++) {
        int64_t w0, w1;
        window(ow, g.stride_w, g.pad_left, g.k_w, g.in_w, &w0, &w1);
        float* out = y.data + ((b * g.out_h + oh) * g.out_w + ow) * c;
        for (int64_t k = 0; k < c; k++) out[k] = lowest;
        for (int64_t h = h0; h < h1; h++) {
          for (int64_t w = w0; w < w1; w++) {
            const float* in = x.data + ((b * g.in_h + h) * g.in_w + w) * c;
            for (int64_t k = 0; k < c; k++) out[k] = in[k] > out[k] ? in[k] : out[k];
          }
        }
      }
    }
  }
  return nullptr;
}

// maxPoolGrad(geometry, dy, x, out): out (shaped like x) receives each dy at
// the position of its window's maximum.
napi_value max_pool_grad(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  arguments(env, info, 4, argv, "maxPoolGrad");
  PoolGeometry g = read_pool_geometry(env, argv[0]);
  View<float> dy = typed_array<float>(env, argv[1], "dy");
  View<float> x = typed_array<float>(env, argv[2], "x");
  View<float> dx = typed_array<float>(env, argv[3], "out");
  require_length("dy", dy.length, output_size(g));
  require_length("x", x.length, input_size(g));
  require_length("out", dx.length, input_size(g));
  const int64_t c = g.c;
  const int64_t image = g.in_h * g.in_w * c;
  // Images are independent: each thread writes only its own images of dx.
#pragma omp parallel
  {
    // Per channel: the best value so far in the window and where it is.
    std::vector<float> best(c);
    std::vector<int64_t> at(c);
#pragma omp for schedule(static)
    for (int64_t b = 0; b < g.batch; b++) {
      float* grad = dx.data + b * image;
      const float* in = x.data + b * image;
      for (int64_t i = 0; i < image; i++) grad[i] = 0.f;
      for (int64_t oh = 0; oh < g.out_h; oh++) {
        int64_t h0, h1;
        window(oh, g.stride_h, g.pad_top, g.k_h, g.in_h, &h0, &h1);
        for (int64_t ow = 0; ow < g.out_w; ow++) {
          int64_t w0, w1;
          window(ow, g.stride_w, g.pad_left, g.k_w, g.in_w, &w0, &w1);
          const float* d = dy.data + ((b * g.out_h + oh) * g.out_w + ow) * c;
          bool first = true;
          for (int64_t h = h0; h < h1; h++) {
            for (int64_t w = w0; w < w1; w++) {
              const int64_t base = (h * g.in_w + w) * c;
              const float* row = in + base;
              if (first) {
                for (int64_t k = 0; k < c; k++) {
                  best[k] = row[k];
                  at[k] = base + k;
                }
                first = false;
                continue;
              }
              for (int64_t k = 0; k < c; k++) {
                if (row[k] > best[k]) {
                  best[k] = row[k];
                  at[k] = base + k;
                }
              }
            }
          }
          if (!first) {
            for (int64_t k = 0; k < c; k++) grad[at[k]] += d[k];
          }
        }
      }
    }
  }
  return nullptr;
}

}  // namespace

size_t pool_cache_entries() { return pooling_cache().size(); }

void register_pool(napi_env env, napi_value exports) {
  define<max_pool>(env, exports, "maxPool");
  define<max_pool_grad>(env, exports, "maxPoolGrad");
}

}  // namespace vicinal
