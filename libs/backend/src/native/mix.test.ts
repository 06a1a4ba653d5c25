import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setNativeKernelsActive } from './common.js';
import { DEFAULT_ADDON_PATH, loadNativeAddon, type NativeAddon } from './loader.js';
import { nativePixelMixer } from './mix.js';
import { nativeTestGate } from './test-support.js';

const gate = nativeTestGate();
const addon = () => loadNativeAddon(DEFAULT_ADDON_PATH, {}).addon as NativeAddon;

/** The arithmetic the addon must repeat exactly, written out per pixel. */
function expected(
  images: Uint8Array,
  table: Float32Array,
  channels: number,
  partner: Int32Array,
  lambda: Float32Array,
): Float32Array {
  const rows = partner.length;
  const pixels = images.length / rows;
  const out = new Float32Array(images.length);
  const f = Math.fround;
  for (let i = 0; i < rows; i++) {
    const l = f(lambda[i]);
    const rest = f(1 - l);
    for (let k = 0; k < pixels; k++) {
      const ch = k % channels;
      const own = f(l * table[images[i * pixels + k] * channels + ch]);
      const other = f(rest * table[images[partner[i] * pixels + k] * channels + ch]);
      out[i * pixels + k] = own + other;
    }
  }
  return out;
}

function sample(rows: number, pixels: number, channels: number, seed: number) {
  let s = seed;
  const next = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32;
  };
  const images = Uint8Array.from({ length: rows * pixels }, () =>
    Math.floor(next() * 256),
  );
  const table = Float32Array.from({ length: 256 * channels }, () => next() * 8 - 4);
  const partner = Int32Array.from({ length: rows }, () => Math.floor(next() * rows));
  const lambda = Float32Array.from({ length: rows }, (_, i) =>
    i === 0 ? 1 : i === 1 ? 0 : next(),
  );
  return { images, table, partner, lambda };
}

test('mixPixels gives exactly the float32 numbers of the per-pixel formula', gate, () => {
  for (const [rows, pixels, channels] of [
    [1, 6, 1],
    [37, 784, 1],
    [16, 3 * 32 * 32, 3],
    [5, 2 * 7, 2],
  ]) {
    const { images, table, partner, lambda } = sample(
      rows,
      pixels,
      channels,
      rows + pixels,
    );
    const out = new Float32Array(images.length).fill(Number.NaN);
    addon().mixPixels?.(images, table, channels, partner, lambda, out);
    const want = expected(images, table, channels, partner, lambda);
    assert.deepEqual(
      Array.from(out),
      Array.from(want),
      `${rows} x ${pixels} x ${channels}`,
    );
  }
});

test(
  'mixPixels reads views of larger buffers (request bytes) at their offset',
  gate,
  () => {
    const { images, table, partner, lambda } = sample(4, 10, 1, 3);
    const bytes = Buffer.alloc(images.length + 13, 255);
    bytes.set(images, 7);
    const view = bytes.subarray(7, 7 + images.length);
    const big = new Float32Array(images.length + 5).fill(-1);
    const out = big.subarray(2, 2 + images.length);
    addon().mixPixels?.(view, table, 1, partner, lambda, out);
    assert.deepEqual(
      Array.from(out),
      Array.from(expected(images, table, 1, partner, lambda)),
    );
    assert.deepEqual(
      [big[0], big[1], big[big.length - 1]],
      [-1, -1, -1],
      'nothing outside',
    );
  },
);

test('mixPixels refuses arguments of the wrong size or type, naming them', gate, () => {
  const { images, table, partner, lambda } = sample(3, 4, 1, 9);
  const mix = addon().mixPixels!;
  const out = new Float32Array(images.length);
  const cases: [() => void, RegExp][] = [
    [() => mix(images, table, 2, partner, lambda, out), /table: expected 512/],
    [() => mix(images, table, 1, partner, lambda.subarray(1), out), /lambda: expected 3/],
    [() => mix(images, table, 1, partner, lambda, out.subarray(1)), /out: expected 12/],
    [
      () => mix(images.subarray(1), table, 1, partner, lambda, new Float32Array(11)),
      /images: expected 3 images/,
    ],
    [
      () => mix(images, table, 1, Int32Array.from([0, 3, 1]), lambda, out),
      /partner: expected row indices < 3, got 3 at row 1/,
    ],
    [
      () => mix(images, table, 1, Int32Array.from([0, -1, 1]), lambda, out),
      /partner: .*got -1/,
    ],
    [
      () =>
        mix(
          new Float32Array(12) as unknown as Uint8Array,
          table,
          1,
          partner,
          lambda,
          out,
        ),
      /images: wrong typed array element type/,
    ],
    [
      () => mix(images, table, 0, partner, lambda, out),
      /channels: expected an integer >= 1/,
    ],
    [() => mix(images, table, 1.5, partner, lambda, out), /channels/],
  ];
  for (const [call, message] of cases) assert.throws(call, message);
});

test('nativePixelMixer follows the native switch', gate, () => {
  assert.equal(typeof nativePixelMixer(), 'function');
  const previous = setNativeKernelsActive(false);
  try {
    assert.equal(nativePixelMixer(), null);
  } finally {
    setNativeKernelsActive(previous);
  }
});
