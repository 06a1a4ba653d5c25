import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decodeFloat16,
  encodeFloat16,
  FLOAT16_MAX,
  fromFloat16Bits,
  toFloat16Bits,
} from './float16.js';

const MIN_SUBNORMAL = 2 ** -24;
const MIN_NORMAL = 2 ** -14;

test('zeros keep their sign', () => {
  assert.equal(toFloat16Bits(0), 0x0000);
  assert.equal(toFloat16Bits(-0), 0x8000);
  assert.ok(Object.is(fromFloat16Bits(0x8000), -0));
  assert.ok(Object.is(fromFloat16Bits(0x0000), 0));
});

test('exact values encode to their known bit patterns and back', () => {
  const cases: [number, number][] = [
    [1, 0x3c00],
    [-2, 0xc000],
    [0.5, 0x3800],
    [1 + 2 ** -10, 0x3c01],
    [FLOAT16_MAX, 0x7bff],
    [-FLOAT16_MAX, 0xfbff],
    [MIN_NORMAL, 0x0400],
    [MIN_SUBNORMAL, 0x0001],
    [MIN_NORMAL - MIN_SUBNORMAL, 0x03ff],
    [0.333251953125, 0x3555],
  ];
  for (const [value, bits] of cases) {
    assert.equal(toFloat16Bits(value), bits, `${value}`);
    assert.equal(fromFloat16Bits(bits), value, `0x${bits.toString(16)}`);
  }
});

test('infinities and NaN', () => {
  assert.equal(toFloat16Bits(Number.POSITIVE_INFINITY), 0x7c00);
  assert.equal(toFloat16Bits(Number.NEGATIVE_INFINITY), 0xfc00);
  const nan = toFloat16Bits(Number.NaN);
  assert.equal(nan & 0x7c00, 0x7c00);
  assert.notEqual(nan & 0x3ff, 0);
  assert.ok(Number.isNaN(fromFloat16Bits(nan)));
  assert.equal(fromFloat16Bits(0x7c00), Number.POSITIVE_INFINITY);
  assert.equal(fromFloat16Bits(0xfc00), Number.NEGATIVE_INFINITY);
});

test('overflow: up to 65519.99 rounds to 65504, from 65520 on to infinity', () => {
  assert.equal(toFloat16Bits(65519), 0x7bff);
  assert.equal(toFloat16Bits(65520), 0x7c00);
  assert.equal(toFloat16Bits(1e6), 0x7c00);
  assert.equal(toFloat16Bits(-1e6), 0xfc00);
});

test('round to nearest, ties to even (normal range)', () => {
  const ulp = 2 ** -10; // spacing of halves in [1, 2)
  assert.equal(toFloat16Bits(1 + ulp / 2), 0x3c00); // tie, 0x3c00 is even
  assert.equal(toFloat16Bits(1 + (3 * ulp) / 2), 0x3c02); // tie, 0x3c01 odd -> up
  assert.equal(toFloat16Bits(1 + ulp / 2 + 2 ** -20), 0x3c01); // just above a tie
  assert.equal(toFloat16Bits(1 + ulp / 2 - 2 ** -20), 0x3c00); // just below
  // Carry out of the mantissa into the exponent: just under 2 rounds to 2.
  assert.equal(toFloat16Bits(2 - 2 ** -12), 0x4000);
});

test('round to nearest, ties to even (subnormal range and underflow)', () => {
  assert.equal(toFloat16Bits(MIN_SUBNORMAL / 2), 0x0000); // tie with 0 -> 0
  assert.equal(toFloat16Bits(-MIN_SUBNORMAL / 2), 0x8000);
  assert.equal(toFloat16Bits(MIN_SUBNORMAL * 0.51), 0x0001);
  assert.equal(toFloat16Bits(MIN_SUBNORMAL * 1.5), 0x0002); // tie, 1 odd -> 2
  assert.equal(toFloat16Bits(MIN_SUBNORMAL * 2.5), 0x0002); // tie, 2 even stays
  assert.equal(toFloat16Bits(MIN_SUBNORMAL * 0.49), 0x0000);
  assert.equal(toFloat16Bits(1e-10), 0x0000);
  assert.equal(toFloat16Bits(2 ** -130), 0x0000); // a float32 subnormal
  // Largest subnormal plus a bit more than half an ulp becomes the smallest normal.
  assert.equal(toFloat16Bits(MIN_NORMAL - MIN_SUBNORMAL / 4), 0x0400);
});

test('every half survives decode then encode unchanged (NaNs stay NaN)', () => {
  for (let h = 0; h < 0x10000; h++) {
    const v = fromFloat16Bits(h);
    if (Number.isNaN(v)) assert.ok(Number.isNaN(fromFloat16Bits(toFloat16Bits(v))));
    else assert.equal(toFloat16Bits(v), h, `0x${h.toString(16)}`);
  }
});

test('encoding is the nearest half for random values (error <= half an ulp)', () => {
  let x = 12345;
  for (let i = 0; i < 5000; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const value = Math.fround(((x / 2 ** 32) * 2 - 1) * 70000);
    const decoded = fromFloat16Bits(toFloat16Bits(value));
    if (Math.abs(value) >= 65520) {
      assert.equal(Math.abs(decoded), Number.POSITIVE_INFINITY);
      continue;
    }
    const exponent = Math.max(Math.floor(Math.log2(Math.abs(value) || MIN_NORMAL)), -14);
    const ulp = 2 ** (exponent - 10);
    assert.ok(Math.abs(decoded - value) <= ulp / 2, `${value} -> ${decoded}`);
  }
});

test('array encode/decode use little-endian pairs of bytes', () => {
  const bytes = encodeFloat16(Float32Array.from([1, -2, 0.5]));
  assert.deepEqual([...bytes], [0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38]);
  assert.deepEqual(decodeFloat16(bytes), Float32Array.from([1, -2, 0.5]));
  assert.throws(
    () => decodeFloat16(new Uint8Array(3)),
    /expected an even byte count, got 3/,
  );
});
