/**
 * Area-averaging weights along one axis: output cell o covers the source
 * interval [o * s, (o + 1) * s) with s = from / to, and each source cell j
 * weighs its overlap with that interval divided by s (the weights of one
 * output cell sum to 1). `start[o]` is the first source index of output o.
 */
interface AxisWeights {
  start: Int32Array;
  count: Int32Array;
  weights: Float64Array[];
}

function axisWeights(from: number, to: number): AxisWeights {
  const scale = from / to;
  const start = new Int32Array(to);
  const count = new Int32Array(to);
  const weights: Float64Array[] = [];
  for (let o = 0; o < to; o++) {
    const lo = o * scale;
    const hi = (o + 1) * scale;
    const first = Math.floor(lo);
    const last = Math.min(from - 1, Math.ceil(hi) - 1);
    const w = new Float64Array(last - first + 1);
    for (let j = first; j <= last; j++) {
      w[j - first] = (Math.min(hi, j + 1) - Math.max(lo, j)) / scale;
    }
    start[o] = first;
    count[o] = w.length;
    weights.push(w);
  }
  return { start, count, weights };
}

/**
 * Resizes a channels-last uint8 image [height, width, channels] to
 * [toHeight, toWidth, channels] by area averaging: every output pixel is the
 * mean of the source pixels under its footprint, each weighted by the area it
 * shares with that footprint (a box filter; exact for integer shrink factors,
 * pixel replication for integer growth factors, the identity at equal size).
 * Results are rounded to the nearest integer, halves up.
 */
export function resizeArea(
  src: Uint8Array,
  height: number,
  width: number,
  channels: number,
  toHeight: number,
  toWidth: number,
): Uint8Array {
  if (src.length !== height * width * channels) {
    throw new RangeError(
      `src: expected ${height * width * channels} bytes for ${height}x${width}x` +
        `${channels}, got ${src.length}`,
    );
  }
  if (height === toHeight && width === toWidth) return src.slice();
  const cols = axisWeights(width, toWidth);
  const rows = axisWeights(height, toHeight);
  // Horizontal pass: [height, toWidth, channels] in double precision.
  const mid = new Float64Array(height * toWidth * channels);
  for (let y = 0; y < height; y++) {
    for (let ox = 0; ox < toWidth; ox++) {
      const w = cols.weights[ox];
      const first = cols.start[ox];
      for (let c = 0; c < channels; c++) {
        let acc = 0;
        for (let k = 0; k < cols.count[ox]; k++) {
          acc += w[k] * src[(y * width + first + k) * channels + c];
        }
        mid[(y * toWidth + ox) * channels + c] = acc;
      }
    }
  }
  // Vertical pass into bytes.
  const out = new Uint8Array(toHeight * toWidth * channels);
  const rowLength = toWidth * channels;
  for (let oy = 0; oy < toHeight; oy++) {
    const w = rows.weights[oy];
    const first = rows.start[oy];
    for (let i = 0; i < rowLength; i++) {
      let acc = 0;
      for (let k = 0; k < rows.count[oy]; k++)
        acc += w[k] * mid[(first + k) * rowLength + i];
      // The epsilon makes exact halves round up despite summation error.
      out[oy * rowLength + i] = Math.min(255, Math.max(0, Math.round(acc + 1e-9)));
    }
  }
  return out;
}
