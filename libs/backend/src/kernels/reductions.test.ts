import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { blockLayout } from './block-reduce.js';
import {
  compareWithCpu,
  randomValues,
  readyBackends,
  runOn,
  sizeOf,
} from './reference.js';

/** Relative error bound: max |wasm - cpu| / (max |cpu| + 1e-12). */
const BOUND = 1e-5;

before(readyBackends);

const cases: { shape: number[]; axes: number[]; keepDims: boolean }[] = [
  { shape: [16, 7, 7, 8], axes: [0, 1, 2], keepDims: false }, // batchnorm statistics
  { shape: [16, 7, 7, 8], axes: [0, 1, 2], keepDims: true },
  { shape: [16, 7, 7, 8], axes: [1, 2], keepDims: false }, // global average pooling
  { shape: [16, 7, 7, 8], axes: [3], keepDims: false }, // innermost: shipped kernel
  { shape: [16, 7, 7, 8], axes: [0, 2], keepDims: true }, // not contiguous: shipped kernel
  { shape: [5, 1, 6, 3], axes: [0, 2], keepDims: false }, // contiguous across a size-1 axis
  { shape: [64, 10], axes: [0], keepDims: false }, // dense bias gradient
  { shape: [128, 28, 28, 4], axes: [0, 1, 2], keepDims: false }, // long reduction
];

for (const { shape, axes, keepDims } of cases) {
  for (const op of ['sum', 'mean'] as const) {
    test(`${op} matches cpu: [${shape}] axes [${axes}] keepDims ${keepDims}`, async () => {
      const v = randomValues(sizeOf(shape), 19).map((x) => x + 0.25);
      const { error } = await compareWithCpu(() =>
        (op === 'sum' ? tf.sum : tf.mean)(tf.tensor(v, shape), axes, keepDims),
      );
      assert.ok(error < BOUND, `relative error ${error} >= ${BOUND}`);
    });
  }
}

test('int32 sums keep their dtype and exact values (shipped kernel)', async () => {
  const r = await runOn('wasm', () =>
    tf.sum(tf.tensor3d([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2], 'int32'), [0, 1]),
  );
  assert.deepEqual(Array.from(r.values), [16, 20]);
});

test('blockLayout finds [outer, reduce, inner] views or refuses', () => {
  assert.deepEqual(blockLayout([2, 3, 4, 5], [1, 2]), { outer: 2, reduce: 12, inner: 5 });
  assert.deepEqual(blockLayout([2, 3, 4, 5], [0, 1, 2]), {
    outer: 1,
    reduce: 24,
    inner: 5,
  });
  assert.deepEqual(blockLayout([2, 1, 4, 5], [0, 2]), { outer: 1, reduce: 8, inner: 5 });
  assert.equal(blockLayout([2, 3, 4, 5], [0, 2]), null);
});

test('Mean and Sum gradients (tiled) match cpu', async () => {
  const v = randomValues(4 * 5 * 6 * 3, 20);
  for (const axes of [[0, 1, 2], [1, 2], [3], [0, 2]]) {
    const { error } = await compareWithCpu(() =>
      tf.grad((x: tf.Tensor) => {
        const w = tf.tensor(
          randomValues(sizeOf(tf.mean(x, axes).shape), 21),
          tf.mean(x, axes).shape,
        );
        return tf.add(
          tf.sum(tf.mul(tf.mean(x, axes), w)),
          tf.sum(tf.mul(tf.sum(x, axes), w)),
        );
      })(tf.tensor(v, [4, 5, 6, 3])),
    );
    assert.ok(error < 1e-6, `axes [${axes}]: relative error ${error}`);
  }
});
