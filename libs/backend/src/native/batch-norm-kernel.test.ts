import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { compareWithCpu, randomValues, sizeOf } from '../kernels/reference.js';
import { nativeCallCounts } from './common.js';
import { nativeTests } from './test-support.js';

/** Relative error bound against cpu: max |native - cpu| / (max |cpu| + 1e-12) < 1e-5. */
const BOUND = 1e-5;

const gate = nativeTests();

interface Case {
  x: number[];
  stats: number[];
  offset: boolean;
  scale: boolean;
  native: boolean;
}

const cases: Case[] = [
  { x: [4, 6, 6, 8], stats: [8], offset: true, scale: true, native: true },
  { x: [4, 6, 6, 8], stats: [8], offset: false, scale: true, native: true },
  { x: [4, 6, 6, 8], stats: [8], offset: true, scale: false, native: true },
  { x: [4, 6, 6, 8], stats: [8], offset: false, scale: false, native: true },
  { x: [2, 5, 3, 1], stats: [1], offset: true, scale: true, native: true },
  { x: [16, 10], stats: [10], offset: true, scale: true, native: true },
  { x: [64, 14, 14, 16], stats: [1, 1, 1, 16], offset: true, scale: true, native: true },
  // Statistics per position, not per channel: the wasm kernel takes it.
  { x: [2, 3, 3, 4], stats: [3, 3, 4], offset: true, scale: true, native: false },
];

for (const c of cases) {
  test(
    `FusedBatchNorm (${c.native ? 'native' : 'wasm fallback'}) matches cpu: x [${c.x}] stats [${c.stats}] offset ${c.offset} scale ${c.scale}`,
    gate,
    async () => {
      const n = sizeOf(c.stats);
      const xv = randomValues(sizeOf(c.x), 1);
      const mean = randomValues(n, 2);
      const variance = randomValues(n, 3).map((v) => v + 1.5);
      const offset = randomValues(n, 4);
      const scale = randomValues(n, 5);
      const before = {
        ...(nativeCallCounts.get('FusedBatchNorm') ?? { native: 0, fallback: 0 }),
      };
      const { error } = await compareWithCpu(() =>
        tf.batchNorm(
          tf.tensor(xv, c.x),
          tf.tensor(mean, c.stats),
          tf.tensor(variance, c.stats),
          c.offset ? tf.tensor(offset, c.stats) : undefined,
          c.scale ? tf.tensor(scale, c.stats) : undefined,
          1e-3,
        ),
      );
      const after = nativeCallCounts.get('FusedBatchNorm') ?? { native: 0, fallback: 0 };
      assert.equal(after.native - before.native, c.native ? 1 : 0);
      assert.equal(after.fallback - before.fallback, c.native ? 0 : 1);
      assert.ok(error < BOUND, `relative error ${error} >= ${BOUND}`);
    },
  );
}

/**
 * The gradient rule with respect to all five inputs, against TensorFlow.js's
 * rule on cpu: sum(batchNorm(x, mean, variance, offset, scale) * w).
 * TensorFlow.js records batchNorm for gradients only with both offset and
 * scale given (it saves the scale and walks the offset input), so every case
 * has both.
 */
for (const shape of [
  [6, 5, 5, 8],
  [32, 7, 7, 16],
  [12, 9],
]) {
  test(
    `the FusedBatchNorm gradient (native sums) matches cpu: x [${shape}]`,
    gate,
    async () => {
      const c = shape[shape.length - 1];
      const values = {
        x: randomValues(sizeOf(shape), 11),
        w: randomValues(sizeOf(shape), 12),
        mean: randomValues(c, 13),
        variance: randomValues(c, 14).map((v) => v + 1.5),
        offset: randomValues(c, 15),
        scale: randomValues(c, 16),
      };
      const sumsBefore = nativeCallCounts.get('VicinalBatchNormGradSums')?.native ?? 0;
      const { error } = await compareWithCpu(() => {
        const x = tf.tensor(values.x, shape);
        const mean = tf.tensor1d(values.mean);
        const variance = tf.tensor1d(values.variance);
        const scale = tf.tensor1d(values.scale);
        const offset = tf.tensor1d(values.offset);
        const w = tf.tensor(values.w, shape);
        const grads = tf.grads((a, b, c, d, e) =>
          tf.sum(tf.mul(tf.batchNorm(a, b, c, d, e, 1e-3), w)),
        )([x, mean, variance, offset, scale]);
        return tf.concat(grads.map((g) => tf.reshape(g, [-1])));
      });
      const sums =
        (nativeCallCounts.get('VicinalBatchNormGradSums')?.native ?? 0) - sumsBefore;
      assert.equal(sums, 1, 'the native sums ran once');
      assert.ok(error < BOUND, `relative error ${error} >= ${BOUND}`);
    },
  );
}
