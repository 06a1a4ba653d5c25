// Batched matrix products (TensorFlow.js's BatchMatMul and _FusedMatMul) on
// oneDNN's matmul primitive, straight on TensorFlow.js's row-major buffers:
// a transposed operand is described to oneDNN by its strides, never copied;
// a batch of one on either side is broadcast against the other's batch; the
// fused form adds a bias per output column and an activation.
#include <string>

#include "engine.h"
#include "fused.h"
#include "kernels.h"
#include "napi-util.h"

namespace vicinal {
namespace {

using dnnl::memory;
using dt = memory::data_type;

// C[batch] = op(A[batch]) op(B[batch]), op(A) M x K, op(B) K x N, as the
// TypeScript side packs it into an Int32Array: batchA, batchB, M, K, N,
// transposeA, transposeB. A is stored [batchA, M, K] (or [batchA, K, M]
// when transposed), B [batchB, K, N] (or [batchB, N, K]), C [batch, M, N]
// with batch the larger of batchA and batchB.
struct Product {
  int64_t batch_a, batch_b, m, k, n;
  bool trans_a, trans_b;

  int64_t batch() const { return batch_a > batch_b ? batch_a : batch_b; }
  size_t a_size() const { return batch_a * m * k; }
  size_t b_size() const { return batch_b * k * n; }
  size_t out_size() const { return batch() * m * n; }
};
constexpr size_t kProductFields = 7;

Product read_product(napi_env env, napi_value value) {
  const int32_t* v = packed_ints(env, value, kProductFields, "geometry");
  for (size_t i = 0; i < 5; i++) {
    if (v[i] < 1) throw ArgumentError("geometry: batches and sizes must be >= 1");
  }
  if (v[0] != v[1] && v[0] != 1 && v[1] != 1) {
    throw ArgumentError("geometry: the batches must be equal or one of them 1");
  }
  for (size_t i = 5; i < kProductFields; i++) {
    if (v[i] != 0 && v[i] != 1) throw ArgumentError("geometry: transposes must be 0 or 1");
  }
  return Product{v[0], v[1], v[2], v[3], v[4], v[5] == 1, v[6] == 1};
}

// A [batch, rows, cols] matrix stored row-major, or transposed (stored
// [batch, cols, rows]), as oneDNN sees it through strides.
memory::desc matrix_desc(int64_t batch, int64_t rows, int64_t cols, bool transposed) {
  memory::dims strides = transposed ? memory::dims{rows * cols, 1, rows}
                                    : memory::dims{rows * cols, cols, 1};
  return memory::desc({batch, rows, cols}, dt::f32, strides);
}

struct MatMul {
  dnnl::matmul primitive;
  memory a, b, out, bias;
};

PrimitiveCache<MatMul>& matmul_cache() {
  static PrimitiveCache<MatMul> cache;
  return cache;
}

std::unique_ptr<MatMul> make_matmul(const Product& p, const FusedArgs& args) {
  memory::desc a_md = matrix_desc(p.batch_a, p.m, p.k, p.trans_a);
  memory::desc b_md = matrix_desc(p.batch_b, p.k, p.n, p.trans_b);
  memory::desc out_md = matrix_desc(p.batch(), p.m, p.n, false);
  // One value per output column, broadcast over batches and rows.
  memory::desc bias_md =
      args.has_bias ? memory::desc({1, 1, p.n}, dt::f32, memory::format_tag::abc)
                    : memory::desc();
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, bias_md, out_md),
                                  activation_attr(args.activation, args.alpha),
                                  engine().cpu);
  // The buffers are TensorFlow.js's: the primitive must take them as they are.
  if (pd.src_desc() != a_md || pd.weights_desc() != b_md || pd.dst_desc() != out_md) {
    throw dnnl::error(dnnl_unimplemented, "matmul wants another layout");
  }
  auto entry = std::make_unique<MatMul>();
  entry->primitive = dnnl::matmul(pd);
  entry->a = borrowed(a_md);
  entry->b = borrowed(b_md);
  entry->out = borrowed(out_md);
  if (args.has_bias) entry->bias = borrowed(bias_md);
  return entry;
}

// matMul(geometry, a, b, bias | null, activation, alpha, out) -> bool
napi_value mat_mul(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  arguments(env, info, 7, argv, "matMul");
  Product p = read_product(env, argv[0]);
  FusedArgs args = read_fused_args(env, argv + 1, "a", "b");
  require_length("a", args.x.length, p.a_size());
  require_length("b", args.w.length, p.b_size());
  if (args.has_bias) require_length("bias", args.bias.length, static_cast<size_t>(p.n));
  require_length("out", args.out.length, p.out_size());

  std::lock_guard<std::mutex> hold(native_lock());
  Key key{3, p.batch_a, p.batch_b, p.m, p.k, p.n, p.trans_a ? 1 : 0, p.trans_b ? 1 : 0};
  append_fused_key(key, args);
  MatMul* f = matmul_cache().get(key, [&] { return make_matmul(p, args); });
  if (!f) return boolean(env, false);
  f->b.set_data_handle(args.w.data);
  run_fused(f->primitive, f->a, f->b, f->out, f->bias, args);
  return boolean(env, true);
}

}  // namespace

size_t matmul_cache_entries() { return matmul_cache().size(); }

void register_matmul(napi_env env, napi_value exports) {
  define<mat_mul>(env, exports, "matMul");
}

}  // namespace vicinal
