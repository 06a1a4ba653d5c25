// Batch normalisation with given statistics (TensorFlow.js's FusedBatchNorm),
// NHWC: y = (x - mean) * scale / sqrt(variance + epsilon) + offset, with one
// mean, variance, scale and offset per channel (the innermost axis).
#include <cmath>
#include <string>
#include <vector>

#include "kernels.h"
#include "napi-util.h"

namespace vicinal {
namespace {

// batchNorm(x, mean, variance, offset | null, scale | null, epsilon, out)
napi_value batch_norm(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  arguments(env, info, 7, argv, "batchNorm");
  View<float> x = typed_array<float>(env, argv[0], "x");
  View<float> mean = typed_array<float>(env, argv[1], "mean");
  View<float> variance = typed_array<float>(env, argv[2], "variance");
  View<float> offset, scale;
  bool has_offset = !is_null_or_undefined(env, argv[3]);
  bool has_scale = !is_null_or_undefined(env, argv[4]);
  if (has_offset) offset = typed_array<float>(env, argv[3], "offset");
  if (has_scale) scale = typed_array<float>(env, argv[4], "scale");
  double epsilon = number(env, argv[5], "epsilon");
  View<float> y = typed_array<float>(env, argv[6], "out");
  const size_t c = mean.length;
  if (c == 0 || x.length % c != 0) {
    throw ArgumentError("x: expected a whole number of rows of " + std::to_string(c) +
                        " channels, got " + std::to_string(x.length) + " elements");
  }
  if (variance.length != c || (has_offset && offset.length != c) ||
      (has_scale && scale.length != c)) {
    throw ArgumentError("variance, offset and scale: expected one value per channel");
  }
  if (y.length != x.length) throw ArgumentError("out: expected the size of x");
  // Per channel: y = x * a + b.
  std::vector<float> a(c), b(c);
  for (size_t k = 0; k < c; k++) {
    float s = has_scale ? scale.data[k] : 1.f;
    float r = static_cast<float>(1.0 / std::sqrt(static_cast<double>(variance.data[k]) + epsilon));
    a[k] = s * r;
    b[k] = (has_offset ? offset.data[k] : 0.f) - mean.data[k] * a[k];
  }
  const int64_t rows = static_cast<int64_t>(x.length / c);
  const float* pa = a.data();
  const float* pb = b.data();
#pragma omp parallel for schedule(static) if (x.length > 32768)
  for (int64_t r = 0; r < rows; r++) {
    const float* in = x.data + r * c;
    float* out = y.data + r * c;
    for (size_t k = 0; k < c; k++) out[k] = in[k] * pa[k] + pb[k];
  }
  return nullptr;
}

// batchNormGradSums(dy, x, mean, out): per channel, out[k] = sum of dy and
// out[C + k] = sum of dy * (x - mean) over all rows (double accumulators).
// With them every parameter gradient of batch normalisation is a per-channel
// expression; only the input gradient needs another pass.
napi_value batch_norm_grad_sums(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  arguments(env, info, 4, argv, "batchNormGradSums");
  View<float> dy = typed_array<float>(env, argv[0], "dy");
  View<float> x = typed_array<float>(env, argv[1], "x");
  View<float> mean = typed_array<float>(env, argv[2], "mean");
  View<float> out = typed_array<float>(env, argv[3], "out");
  const size_t c = mean.length;
  if (c == 0 || x.length % c != 0) {
    throw ArgumentError("x: expected a whole number of rows of " + std::to_string(c) +
                        " channels, got " + std::to_string(x.length) + " elements");
  }
  require_length("dy", dy.length, x.length);
  require_length("out", out.length, 2 * c);
  const int64_t rows = static_cast<int64_t>(x.length / c);
  std::vector<double> total(2 * c, 0.0);
#pragma omp parallel if (x.length > 32768)
  {
    std::vector<double> part(2 * c, 0.0);
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
      const float* d = dy.data + r * c;
      const float* in = x.data + r * c;
      for (size_t k = 0; k < c; k++) {
        part[k] += d[k];
        part[c + k] += static_cast<double>(d[k]) * (in[k] - mean.data[k]);
      }
    }
#pragma omp critical
    for (size_t k = 0; k < 2 * c; k++) total[k] += part[k];
  }
  for (size_t k = 0; k < 2 * c; k++) out.data[k] = static_cast<float>(total[k]);
  return nullptr;
}

}  // namespace

void register_batch_norm(napi_env env, napi_value exports) {
  define<batch_norm>(env, exports, "batchNorm");
  define<batch_norm_grad_sums>(env, exports, "batchNormGradSums");
}

}  // namespace vicinal
