import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resizeArea } from './resize.js';

test('equal size is a copy', () => {
  const src = Uint8Array.from([1, 2, 3, 4, 5, 6]);
  const out = resizeArea(src, 1, 2, 3, 1, 2);
  assert.deepEqual(out, src);
  assert.notEqual(out, src);
});

test('halving averages 2x2 blocks, halves rounding up', () => {
  // 4x4 grey: blocks [0 2; 4 6] -> 3, [10 10; 10 11] -> 10.25 -> 10, ...
  const src = Uint8Array.from([
    0, 2, 10, 10, 4, 6, 10, 11, 100, 101, 255, 255, 100, 101, 255, 254,
  ]);
  assert.deepEqual(resizeArea(src, 4, 4, 1, 2, 2), Uint8Array.from([3, 10, 101, 255]));
});

test('doubling replicates pixels', () => {
  const src = Uint8Array.from([1, 2, 3, 4]);
  assert.deepEqual(
    resizeArea(src, 2, 2, 1, 4, 4),
    Uint8Array.from([1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]),
  );
});

test('a fractional factor weighs each source pixel by the area it covers', () => {
  // Width 3 -> 2: output 0 covers [0, 1.5): (0 * 1 + 90 * 0.5) / 1.5 = 30;
  // output 1 covers [1.5, 3): (90 * 0.5 + 180 * 1) / 1.5 = 150.
  assert.deepEqual(
    resizeArea(Uint8Array.from([0, 90, 180]), 1, 3, 1, 1, 2),
    Uint8Array.from([30, 150]),
  );
  // Channels are resized independently (RGB, 1x3 -> 1x2).
  const rgb = Uint8Array.from([0, 10, 255, 90, 10, 255, 180, 10, 255]);
  assert.deepEqual(
    resizeArea(rgb, 1, 3, 3, 1, 2),
    Uint8Array.from([30, 10, 255, 150, 10, 255]),
  );
});

test('a constant image stays constant at any size', () => {
  const src = new Uint8Array(7 * 5 * 3).fill(201);
  const out = resizeArea(src, 7, 5, 3, 3, 11);
  assert.equal(out.length, 3 * 11 * 3);
  assert.ok(out.every((v) => v === 201));
});

test('a wrong source length is refused', () => {
  assert.throws(() => resizeArea(new Uint8Array(5), 2, 2, 1, 1, 1), {
    name: 'RangeError',
    message: 'src: expected 4 bytes for 2x2x1, got 5',
  });
});
