import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initBackend, tf } from '@vicinal/backend';
import {
  normalisePixels,
  normaliseWithTable,
  pixelTable,
  toNormalisedTensor,
} from './normalise.js';

await initBackend('cpu');

test('pixels are normalised per channel as (x/255 - mean) / std', () => {
  const images = Uint8Array.from([0, 255, 128, 51, 0, 255]);
  const out = normalisePixels(images, [0.5, 0.2], [0.25, 0.5]);
  const want = [-2, 1.6, (128 / 255 - 0.5) / 0.25, (51 / 255 - 0.2) / 0.5, -2, 1.6];
  assert.deepEqual(out, Float32Array.from(want));
});

test('a precomputed table gives the same values; a table of the wrong size is named', () => {
  const images = Uint8Array.from([0, 255, 128, 51, 0, 255]);
  const table = pixelTable([0.5, 0.2], [0.25, 0.5]);
  assert.deepEqual(
    normaliseWithTable(images, table, 2),
    normalisePixels(images, [0.5, 0.2], [0.25, 0.5]),
  );
  assert.throws(
    () => normaliseWithTable(images, table, 3),
    /table: expected 256 values per channel for 3 channels, got 512/,
  );
});

test('toNormalisedTensor gives float32 [B,H,W,C]', async () => {
  const images = new Uint8Array(2 * 2 * 2 * 1).map((_, i) => i * 30);
  const t = toNormalisedTensor(tf, images, [0.286], [0.353], [2, 2, 1]);
  assert.deepEqual(t.shape, [2, 2, 2, 1]);
  assert.equal(t.dtype, 'float32');
  const data = await t.data();
  t.dispose();
  assert.deepEqual(
    data,
    Float32Array.from(images, (v) => (v / 255 - 0.286) / 0.353),
  );
});

test('a byte count that is not whole images, or a mean per wrong channel, throws', () => {
  assert.throws(
    () => toNormalisedTensor(tf, new Uint8Array(5), [0], [1], [2, 2, 1]),
    /images: expected a multiple of 4 bytes \(2x2x1 images\), got 5/,
  );
  assert.throws(
    () => toNormalisedTensor(tf, new Uint8Array(12), [0], [1], [2, 2, 3]),
    /mean: expected 3 values \(one per channel\), got 1/,
  );
});
