// Mixup of uint8 images into normalised float32 rows, for a teacher that
// mixes its students' batches ("mix on the teacher", in a teacher server or in
// the student's process):
// out[i] = lambda[i] * t(x[i]) + (1 - lambda[i]) * t(x[partner[i]]), with t
// the 256-value normalisation table of each channel. Per row, the two weighted
// tables are built first, so a pixel costs two lookups and an add. The float
// arithmetic is the same as the TypeScript loop's (each product and the sum
// rounded to float32 once), so both give bit-identical rows.
#include <cstdint>
#include <string>
#include <vector>

#include "kernels.h"
#include "napi-util.h"

namespace vicinal {
namespace {

// mixPixels(images: Uint8Array, table: Float32Array (256 x C), channels,
//           partner: Int32Array (B), lambda: Float32Array (B), out: Float32Array)
napi_value mix_pixels(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  arguments(env, info, 6, argv, "mixPixels");
  View<uint8_t> images = typed_array<uint8_t>(env, argv[0], "images");
  View<float> table = typed_array<float>(env, argv[1], "table");
  double channels_arg = number(env, argv[2], "channels");
  View<int32_t> partner = typed_array<int32_t>(env, argv[3], "partner");
  View<float> lambda = typed_array<float>(env, argv[4], "lambda");
  View<float> out = typed_array<float>(env, argv[5], "out");
  if (!(channels_arg >= 1) || channels_arg != static_cast<double>(static_cast<size_t>(channels_arg))) {
    throw ArgumentError("channels: expected an integer >= 1");
  }
  const size_t c = static_cast<size_t>(channels_arg);
  require_length("table", table.length, 256 * c);
  const size_t rows = partner.length;
  require_length("lambda", lambda.length, rows);
  require_length("out", out.length, images.length);
  if (rows == 0) {
    require_length("images", images.length, 0);
    return nullptr;
  }
  if (images.length % rows != 0 || (images.length / rows) % c != 0) {
    throw ArgumentError("images: expected " + std::to_string(rows) +
                        " images of a multiple of " + std::to_string(c) + " values, got " +
                        std::to_string(images.length) + " values");
  }
  const size_t pixels = images.length / rows;
  for (size_t i = 0; i < rows; i++) {
    if (partner.data[i] < 0 || static_cast<size_t>(partner.data[i]) >= rows) {
      throw ArgumentError("partner: expected row indices < " + std::to_string(rows) + ", got " +
                          std::to_string(partner.data[i]) + " at row " + std::to_string(i));
    }
  }
  std::vector<float> own(256 * c), other(256 * c);
  for (size_t i = 0; i < rows; i++) {
    const float l = lambda.data[i];
    const float rest = 1.0f - l;
    for (size_t v = 0; v < 256 * c; v++) {
      own[v] = l * table.data[v];
      other[v] = rest * table.data[v];
    }
    const uint8_t* a = images.data + i * pixels;
    const uint8_t* b = images.data + static_cast<size_t>(partner.data[i]) * pixels;
    float* o = out.data + i * pixels;
    const float* po = own.data();
    const float* pt = other.data();
    if (c == 1) {
      for (size_t k = 0; k < pixels; k++) o[k] = po[a[k]] + pt[b[k]];
    } else {
      for (size_t k = 0; k < pixels; k++) {
        const size_t ch = k % c;
        o[k] = po[a[k] * c + ch] + pt[b[k] * c + ch];
      }
    }
  }
  return nullptr;
}

}  // namespace

void register_mix(napi_env env, napi_value exports) {
  define<mix_pixels>(env, exports, "mixPixels");
}

}  // namespace vicinal
