// 2-D convolution (NHWC activations, HWIO filters as TensorFlow.js stores
// them): forward with optional bias and activation, and both backward
// passes, on oneDNN. Activations are read and written in place (NHWC is a
// layout oneDNN's fast kernels accept); filters are reordered to the layout
// the chosen implementation prefers, which is cheap next to the convolution.
#include <optional>
#include <string>
#include <unordered_map>

#include "engine.h"
#include "fused.h"
#include "kernels.h"
#include "napi-util.h"

namespace vicinal {
namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

// Geometry as the TypeScript side packs it into an Int32Array.
struct Geometry {
  int64_t batch, in_h, in_w, in_c, out_h, out_w, out_c;
  int64_t k_h, k_w, stride_h, stride_w, dil_h, dil_w;
  int64_t pad_top, pad_left, pad_bottom, pad_right;
};
constexpr size_t kGeometryFields = 17;

Geometry read_geometry(napi_env env, napi_value value) {
  const int32_t* v = packed_ints(env, value, kGeometryFields, "geometry");
  Geometry out{v[0], v[1], v[2],  v[3],  v[4],  v[5],  v[6],  v[7], v[8],
               v[9], v[10], v[11], v[12], v[13], v[14], v[15], v[16]};
  for (size_t i = 0; i < 13; i++) {
    if (v[i] < 1) throw ArgumentError("geometry: sizes, strides and dilations must be >= 1");
  }
  for (size_t i = 13; i < kGeometryFields; i++) {
    if (v[i] < 0) throw ArgumentError("geometry: padding must be >= 0");
  }
  return out;
}

Key geometry_key(int64_t op, const Geometry& g) {
  return Key{op,       g.batch,    g.in_h,     g.in_w,     g.in_c,    g.out_h,
             g.out_w,  g.out_c,    g.k_h,      g.k_w,      g.stride_h, g.stride_w,
             g.dil_h,  g.dil_w,    g.pad_top,  g.pad_left, g.pad_bottom, g.pad_right};
}

memory::desc input_desc(const Geometry& g) {
  return memory::desc({g.batch, g.in_c, g.in_h, g.in_w}, dt::f32, tag::nhwc);
}
memory::desc output_desc(const Geometry& g) {
  return memory::desc({g.batch, g.out_c, g.out_h, g.out_w}, dt::f32, tag::nhwc);
}
memory::desc filter_desc(const Geometry& g, tag layout) {
  return memory::desc({g.out_c, g.in_c, g.k_h, g.k_w}, dt::f32, layout);
}
memory::dims strides(const Geometry& g) { return {g.stride_h, g.stride_w}; }
// oneDNN counts dilation from 0 (0 = dense), TensorFlow.js from 1.
memory::dims dilations(const Geometry& g) { return {g.dil_h - 1, g.dil_w - 1}; }
memory::dims pad_before(const Geometry& g) { return {g.pad_top, g.pad_left}; }
memory::dims pad_after(const Geometry& g) { return {g.pad_bottom, g.pad_right}; }

size_t input_size(const Geometry& g) { return g.batch * g.in_h * g.in_w * g.in_c; }
size_t output_size(const Geometry& g) { return g.batch * g.out_h * g.out_w * g.out_c; }
size_t filter_size(const Geometry& g) { return g.k_h * g.k_w * g.in_c * g.out_c; }

dnnl::convolution_forward::desc forward_desc(const Geometry& g, bool bias, dnnl::prop_kind kind) {
  memory::desc bias_md = bias ? memory::desc({g.out_c}, dt::f32, tag::x) : memory::desc();
  return dnnl::convolution_forward::desc(kind, dnnl::algorithm::convolution_direct,
                                         input_desc(g), filter_desc(g, tag::any), bias_md,
                                         output_desc(g), strides(g), dilations(g),
                                         pad_before(g), pad_after(g));
}

// A user filter (HWIO, borrowed) and, when the primitive wants another
// layout, an owned buffer in that layout with the reorder that fills it.
struct Filter {
  memory user;
  memory used;
  std::optional<dnnl::reorder> reorder;

  Filter(const memory::desc& user_md, const memory::desc& wanted) : user(borrowed(user_md)) {
    if (wanted == user_md) {
      used = user;
    } else {
      used = memory(wanted, engine().cpu);
      reorder = dnnl::reorder(user, used);
    }
  }
};

// ---- forward ---------------------------------------------------------------

struct Forward {
  dnnl::convolution_forward primitive;
  memory src, dst, bias;
  Filter filter;
  bool has_bias;

  Forward(const dnnl::convolution_forward::primitive_desc& pd, const Geometry& g, bool with_bias)
      : primitive(pd),
        src(borrowed(pd.src_desc())),
        dst(borrowed(pd.dst_desc())),
        filter(filter_desc(g, tag::hwio), pd.weights_desc()),
        has_bias(with_bias) {
    if (with_bias) bias = borrowed(pd.bias_desc());
  }
};

PrimitiveCache<Forward>& forward_cache() {
  static PrimitiveCache<Forward> cache;
  return cache;
}

std::unique_ptr<Forward> make_forward(const Geometry& g, bool bias, int64_t activation,
                                      float alpha) {
  dnnl::convolution_forward::primitive_desc pd(
      forward_desc(g, bias, dnnl::prop_kind::forward_inference),
      activation_attr(activation, alpha), engine().cpu);
  // Activations must stay NHWC: they are TensorFlow.js's own buffers.
  if (pd.src_desc() != input_desc(g) || pd.dst_desc() != output_desc(g)) {
    throw dnnl::error(dnnl_unimplemented, "activation layout is not NHWC");
  }
  return std::make_unique<Forward>(pd, g, bias);
}

// conv2dForward(geometry, x, filter, bias | null, activation, alpha, out) -> bool
napi_value conv2d_forward(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  arguments(env, info, 7, argv, "conv2dForward");
  Geometry g = read_geometry(env, argv[0]);
  FusedArgs a = read_fused_args(env, argv + 1, "x", "filter");
  require_length("x", a.x.length, input_size(g));
  require_length("filter", a.w.length, filter_size(g));
  if (a.has_bias) require_length("bias", a.bias.length, static_cast<size_t>(g.out_c));
  require_length("out", a.out.length, output_size(g));

  std::lock_guard<std::mutex> hold(native_lock());
  Key key = geometry_key(0, g);
  append_fused_key(key, a);
  Forward* f = forward_cache().get(
      key, [&] { return make_forward(g, a.has_bias, a.activation, a.alpha); });
  if (!f) return boolean(env, false);
  auto& stream = engine().stream;
  f->filter.user.set_data_handle(a.w.data);
  if (f->filter.reorder) f->filter.reorder->execute(stream, f->filter.user, f->filter.used);
  run_fused(f->primitive, f->src, f->filter.used, f->dst, f->bias, a);
  return boolean(env, true);
}

// ---- backward: input gradient ----------------------------------------------

struct BackwardData {
  dnnl::convolution_backward_data primitive;
  memory diff_dst, diff_src;
  Filter filter;

  BackwardData(const dnnl::convolution_backward_data::primitive_desc& pd, const Geometry& g)
      : primitive(pd),
        diff_dst(borrowed(pd.diff_dst_desc())),
        diff_src(borrowed(pd.diff_src_desc())),
        filter(filter_desc(g, tag::hwio), pd.weights_desc()) {}
};

PrimitiveCache<BackwardData>& backward_data_cache() {
  static PrimitiveCache<BackwardData> cache;
  return cache;
}

std::unique_ptr<BackwardData> make_backward_data(const Geometry& g) {
  dnnl::convolution_forward::primitive_desc hint(
      forward_desc(g, false, dnnl::prop_kind::forward_training), engine().cpu);
  dnnl::convolution_backward_data::desc desc(
      dnnl::algorithm::convolution_direct, input_desc(g), filter_desc(g, tag::any),
      output_desc(g), strides(g), dilations(g), pad_before(g), pad_after(g));
  dnnl::convolution_backward_data::primitive_desc pd(desc, engine().cpu, hint);
  if (pd.diff_src_desc() != input_desc(g) || pd.diff_dst_desc() != output_desc(g)) {
    throw dnnl::error(dnnl_unimplemented, "activation layout is not NHWC");
  }
  return std::make_unique<BackwardData>(pd, g);
}

// conv2dBackwardInput(geometry, dy, filter, dx) -> bool
napi_value conv2d_backward_input(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  arguments(env, info, 4, argv, "conv2dBackwardInput");
  Geometry g = read_geometry(env, argv[0]);
  View<float> dy = typed_array<float>(env, argv[1], "dy");
  View<float> w = typed_array<float>(env, argv[2], "filter");
  View<float> dx = typed_array<float>(env, argv[3], "out");
  require_length("dy", dy.length, output_size(g));
  require_length("filter", w.length, filter_size(g));
  require_length("out", dx.length, input_size(g));

  std::lock_guard<std::mutex> hold(native_lock());
  BackwardData* f =
      backward_data_cache().get(geometry_key(1, g), [&] { return make_backward_data(g); });
  if (!f) return boolean(env, false);
  auto& stream = engine().stream;
  f->filter.user.set_data_handle(w.data);
  if (f->filter.reorder) f->filter.reorder->execute(stream, f->filter.user, f->filter.used);
  f->diff_dst.set_data_handle(dy.data);
  f->diff_src.set_data_handle(dx.data);
  f->primitive.execute(stream, {{DNNL_ARG_DIFF_DST, f->diff_dst},
                                {DNNL_ARG_WEIGHTS, f->filter.used},
                                {DNNL_ARG_DIFF_SRC, f->diff_src}});
  stream.wait();
  return boolean(env, true);
}

// ---- backward: filter gradient ---------------------------------------------

struct BackwardFilter {
  dnnl::convolution_backward_weights primitive;
  memory src, diff_dst, diff_weights, user;
  std::optional<dnnl::reorder> to_user;

  BackwardFilter(const dnnl::convolution_backward_weights::primitive_desc& pd,
                 const Geometry& g)
      : primitive(pd),
        src(borrowed(pd.src_desc())),
        diff_dst(borrowed(pd.diff_dst_desc())),
        user(borrowed(filter_desc(g, tag::hwio))) {
    if (pd.diff_weights_desc() == user.get_desc()) {
      diff_weights = user;
    } else {
      diff_weights = memory(pd.diff_weights_desc(), engine().cpu);
      to_user = dnnl::reorder(diff_weights, user);
    }
  }
};

PrimitiveCache<BackwardFilter>& backward_filter_cache() {
  static PrimitiveCache<BackwardFilter> cache;
  return cache;
}

std::unique_ptr<BackwardFilter> make_backward_filter(const Geometry& g) {
  dnnl::convolution_forward::primitive_desc hint(
      forward_desc(g, false, dnnl::prop_kind::forward_training), engine().cpu);
  dnnl::convolution_backward_weights::desc desc(
      dnnl::algorithm::convolution_direct, input_desc(g), filter_desc(g, tag::any),
      output_desc(g), strides(g), dilations(g), pad_before(g), pad_after(g));
  dnnl::convolution_backward_weights::primitive_desc pd(desc, engine().cpu, hint);
  if (pd.src_desc() != input_desc(g) || pd.diff_dst_desc() != output_desc(g)) {
    throw dnnl::error(dnnl_unimplemented, "activation layout is not NHWC");
  }
  return std::make_unique<BackwardFilter>(pd, g);
}

// conv2dBackwardFilter(geometry, x, dy, dw) -> bool
napi_value conv2d_backward_filter(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  arguments(env, info, 4, argv, "conv2dBackwardFilter");
  Geometry g = read_geometry(env, argv[0]);
  View<float> x = typed_array<float>(env, argv[1], "x");
  View<float> dy = typed_array<float>(env, argv[2], "dy");
  View<float> dw = typed_array<float>(env, argv[3], "out");
  require_length("x", x.length, input_size(g));
  require_length("dy", dy.length, output_size(g));
  require_length("out", dw.length, filter_size(g));

  std::lock_guard<std::mutex> hold(native_lock());
  BackwardFilter* f =
      backward_filter_cache().get(geometry_key(2, g), [&] { return make_backward_filter(g); });
  if (!f) return boolean(env, false);
  auto& stream = engine().stream;
  f->src.set_data_handle(x.data);
  f->diff_dst.set_data_handle(dy.data);
  f->user.set_data_handle(dw.data);
  f->primitive.execute(stream, {{DNNL_ARG_SRC, f->src},
                                {DNNL_ARG_DIFF_DST, f->diff_dst},
                                {DNNL_ARG_DIFF_WEIGHTS, f->diff_weights}});
  if (f->to_user) f->to_user->execute(stream, f->diff_weights, f->user);
  stream.wait();
  return boolean(env, true);
}

}  // namespace

size_t conv_cache_entries() {
  return forward_cache().size() + backward_data_cache().size() +
         backward_filter_cache().size();
}

void register_conv(napi_env env, napi_value exports) {
  define<conv2d_forward>(env, exports, "conv2dForward");
  define<conv2d_backward_input>(env, exports, "conv2dBackwardInput");
  define<conv2d_backward_filter>(env, exports, "conv2dBackwardFilter");
}

}  // namespace vicinal
