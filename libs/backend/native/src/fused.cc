// Activation post-ops and argument reading shared by the fused kernels.
#include "fused.h"

#include <cstring>
#include <string>
#include <unordered_map>

namespace vicinal {

FusedArgs read_fused_args(napi_env env, const napi_value* argv, const char* x_name,
                          const char* w_name) {
  FusedArgs out;
  out.x = typed_array<float>(env, argv[0], x_name);
  out.w = typed_array<float>(env, argv[1], w_name);
  out.has_bias = !is_null_or_undefined(env, argv[2]);
  if (out.has_bias) out.bias = typed_array<float>(env, argv[2], "bias");
  out.activation = static_cast<int64_t>(number(env, argv[3], "activation"));
  out.alpha = static_cast<float>(number(env, argv[4], "alpha"));
  out.out = typed_array<float>(env, argv[5], "out");
  return out;
}

dnnl::primitive_attr activation_attr(int64_t activation, float alpha) {
  dnnl::post_ops ops;
  switch (activation) {
    case kLinear:
      break;
    case kRelu:
      ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
      break;
    case kRelu6:
      ops.append_eltwise(1.f, dnnl::algorithm::eltwise_clip, 0.f, 6.f);
      break;
    case kElu:
      ops.append_eltwise(1.f, dnnl::algorithm::eltwise_elu, 1.f, 0.f);
      break;
    case kLeakyRelu:
      ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, alpha, 0.f);
      break;
    case kSigmoid:
      ops.append_eltwise(1.f, dnnl::algorithm::eltwise_logistic, 0.f, 0.f);
      break;
    default:
      throw ArgumentError("activation: unknown code " + std::to_string(activation));
  }
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);
  return attr;
}

void append_fused_key(Key& key, const FusedArgs& args) {
  int32_t alpha_bits;
  std::memcpy(&alpha_bits, &args.alpha, sizeof alpha_bits);
  key.insert(key.end(), {args.has_bias ? 1 : 0, args.activation, alpha_bits});
}

void run_fused(const dnnl::primitive& primitive, dnnl::memory& src, const dnnl::memory& weights,
               dnnl::memory& dst, dnnl::memory& bias, const FusedArgs& args) {
  src.set_data_handle(args.x.data);
  dst.set_data_handle(args.out.data);
  std::unordered_map<int, dnnl::memory> run{
      {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, dst}};
  if (args.has_bias) {
    bias.set_data_handle(args.bias.data);
    run.emplace(DNNL_ARG_BIAS, bias);
  }
  auto& stream = engine().stream;
  primitive.execute(stream, run);
  stream.wait();
}

}  // namespace vicinal
