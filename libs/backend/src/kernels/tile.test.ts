import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import {
  compareWithCpu,
  randomValues,
  readyBackends,
  runOn,
  sizeOf,
} from './reference.js';

before(readyBackends);

const cases: [number[], number[]][] = [
  [
    [1, 1, 1, 4],
    [2, 3, 3, 1],
  ], // batchnorm gradient pattern
  [
    [2, 3],
    [3, 2],
  ],
  [
    [3, 1, 2],
    [1, 4, 1],
  ],
  [[5], [3]],
  [
    [2, 2, 2],
    [1, 1, 1],
  ],
  [
    [4, 1, 1, 3],
    [1, 5, 7, 1],
  ], // global-pooling gradient pattern
  [
    [2, 3, 4, 5],
    [2, 1, 3, 2],
  ],
  [
    [1, 2, 1, 2, 1],
    [2, 1, 3, 1, 2],
  ],
];

for (const [shape, reps] of cases) {
  test(`Tile matches cpu exactly: [${shape}] x [${reps}]`, async () => {
    const v = randomValues(sizeOf(shape), 9);
    const { error, wasm } = await compareWithCpu(() =>
      tf.tile(tf.tensor(v, shape), reps),
    );
    assert.deepEqual(
      wasm.shape,
      shape.map((d, i) => d * reps[i]),
    );
    assert.equal(error, 0);
  });
}

test('Tile keeps int32 and bool values and handles zero repetitions', async () => {
  const ints = await runOn('wasm', () =>
    tf.tile(tf.tensor2d([1, 2, 3, 4], [2, 2], 'int32'), [1, 2]),
  );
  assert.deepEqual(Array.from(ints.values), [1, 2, 1, 2, 3, 4, 3, 4]);
  const bools = await runOn('wasm', () =>
    tf.cast(tf.tile(tf.tensor1d([true, false], 'bool'), [3]), 'int32'),
  );
  assert.deepEqual(Array.from(bools.values), [1, 0, 1, 0, 1, 0]);
  const empty = await runOn('wasm', () => tf.tile(tf.ones([2, 3]), [0, 1]));
  assert.deepEqual(empty.shape, [0, 3]);
});

test('the Tile gradient (a reduction) matches cpu', async () => {
  const v = randomValues(6, 10);
  const { error } = await compareWithCpu(() =>
    tf.grad((x: tf.Tensor) =>
      tf.sum(tf.mul(tf.tile(x, [2, 3]), tf.reshape(tf.range(0, 36), [4, 9]))),
    )(tf.tensor2d(v, [2, 3])),
  );
  assert.ok(error < 1e-6, `relative error ${error}`);
});
