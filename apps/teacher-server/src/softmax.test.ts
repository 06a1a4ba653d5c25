import assert from 'node:assert/strict';
import { test } from 'node:test';
import { softmaxRows } from './softmax.js';

test('rows sum to one and follow softmax(logits / T)', () => {
  const logits = Float32Array.from([1, 2, 3, 1000, 1000, -1000]);
  const p = softmaxRows(logits, 3, 2);
  const e = [Math.exp(-1), Math.exp(-0.5), 1];
  const s = e[0] + e[1] + e[2];
  for (let j = 0; j < 3; j++) assert.ok(Math.abs(p[j] - e[j] / s) < 1e-7);
  // Huge logits do not overflow: the row maximum is subtracted first.
  assert.ok(Math.abs(p[3] - 0.5) < 1e-7 && Math.abs(p[4] - 0.5) < 1e-7);
  assert.equal(p[5], 0);
});

test('a higher temperature flattens the distribution', () => {
  const logits = Float32Array.from([0, 4]);
  assert.ok(softmaxRows(logits, 2, 4)[1] < softmaxRows(logits, 2, 1)[1]);
});
