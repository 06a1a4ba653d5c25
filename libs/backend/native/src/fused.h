// What the fused forward kernels (convolution, matrix product) share: the
// activation codes the TypeScript side sends, the oneDNN post-ops that apply
// them after the bias, and reading the arguments both take in the same order:
// (input, weights, bias | null, activation, alpha, out).
#pragma once

#include <node_api.h>
#include <oneapi/dnnl/dnnl.hpp>

#include <cstdint>

#include "engine.h"
#include "napi-util.h"

namespace vicinal {

// TensorFlow.js's fused activations, PReLU excepted (its weights are a tensor).
enum Activation : int64_t { kLinear = 0, kRelu, kRelu6, kElu, kLeakyRelu, kSigmoid };

// The input, weights, optional bias, activation and output of one fused call.
struct FusedArgs {
  View<float> x, w, bias;
  bool has_bias = false;
  int64_t activation = kLinear;
  float alpha = 0.f;
  View<float> out;
};

// Reads the six values argv[0..5]; x_name and w_name name the first two in errors.
FusedArgs read_fused_args(napi_env env, const napi_value* argv, const char* x_name,
                          const char* w_name);

// Post-ops applying `activation` (alpha: the leaky ReLU slope); throws
// ArgumentError for an unknown code.
dnnl::primitive_attr activation_attr(int64_t activation, float alpha);

// Appends what of a fused call shapes its primitive: bias or not, activation, alpha.
void append_fused_key(Key& key, const FusedArgs& args);

// Points src, dst and (with a bias) bias at this call's buffers, runs the
// primitive on them and `weights` (already pointed at its data) and waits.
void run_fused(const dnnl::primitive& primitive, dnnl::memory& src, const dnnl::memory& weights,
               dnnl::memory& dst, dnnl::memory& bias, const FusedArgs& args);

}  // namespace vicinal
