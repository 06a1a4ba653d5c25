import type { tf as TF } from '@vicinal/backend';

/**
 * uint8 pixels (row-major, channels last) to float32 model input:
 * (pixel / 255 - mean[c]) / std[c] per channel. Each of the 256 values per
 * channel is computed once in double precision and rounded to float32.
 */
export function normalisePixels(
  images: Uint8Array,
  mean: readonly number[],
  std: readonly number[],
  out: Float32Array = new Float32Array(images.length),
): Float32Array {
  return normaliseWithTable(images, pixelTable(mean, std), mean.length, out);
}

/**
 * {@link normalisePixels} with the table of {@link pixelTable} given, for a
 * caller that normalises many batches with the same statistics.
 */
export function normaliseWithTable(
  images: Uint8Array,
  table: Float32Array,
  channels: number,
  out: Float32Array = new Float32Array(images.length),
): Float32Array {
  const c = channels;
  if (table.length !== 256 * c) {
    throw new RangeError(
      `table: expected 256 values per channel for ${c} channels, got ${table.length}`,
    );
  }
  if (images.length % c !== 0 || out.length < images.length) {
    throw new RangeError(
      `images: expected a multiple of ${c} values and an output of at least ` +
        `${images.length}, got ${images.length} values and an output of ${out.length}`,
    );
  }
  if (c === 1) {
    for (let i = 0; i < images.length; i++) out[i] = table[images[i]];
  } else {
    for (let i = 0; i < images.length; i++) out[i] = table[images[i] * c + (i % c)];
  }
  return out;
}

/**
 * The normalised value of every uint8 pixel value per channel, as
 * {@link normalisePixels} writes it: entry `v * C + c` is
 * (v / 255 - mean[c]) / std[c], computed in double precision and rounded to
 * float32.
 */
export function pixelTable(
  mean: readonly number[],
  std: readonly number[],
): Float32Array {
  const c = mean.length;
  if (c === 0 || std.length !== c) {
    throw new RangeError(
      `mean/std: expected the same non-zero number of values (one per channel), ` +
        `got ${mean.length}/${std.length}`,
    );
  }
  const table = new Float32Array(256 * c);
  for (let ch = 0; ch < c; ch++) {
    for (let v = 0; v < 256; v++) table[v * c + ch] = (v / 255 - mean[ch]) / std[ch];
  }
  return table;
}

/**
 * uint8 images [B,H,W,C] to the float32 tensor [B,H,W,C] a model takes,
 * normalised as {@link normalisePixels}. `tf` is passed in so this library
 * never starts a backend. The caller owns (and disposes) the tensor.
 */
export function toNormalisedTensor(
  tf: typeof TF,
  images: Uint8Array,
  mean: readonly number[],
  std: readonly number[],
  shape: readonly [number, number, number],
): TF.Tensor4D {
  const [h, w, c] = shape;
  const pixels = h * w * c;
  if (images.length % pixels !== 0) {
    throw new RangeError(
      `images: expected a multiple of ${pixels} bytes (${h}x${w}x${c} images), ` +
        `got ${images.length}`,
    );
  }
  if (mean.length !== c) {
    throw new RangeError(
      `mean: expected ${c} values (one per channel), got ${mean.length}`,
    );
  }
  const data = normalisePixels(images, mean, std);
  return tf.tensor4d(data, [images.length / pixels, h, w, c], 'float32');
}
