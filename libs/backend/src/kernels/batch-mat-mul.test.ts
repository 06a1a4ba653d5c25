import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { compareWithCpu, randomValues, readyBackends, sizeOf } from './reference.js';

/** Relative error bound: max |wasm - cpu| / (max |cpu| + 1e-12). */
const BOUND = 1e-5;

before(readyBackends);

const shapes: { a: number[]; b: number[] }[] = [
  { a: [5, 7], b: [7, 3] },
  { a: [2, 5, 7], b: [2, 7, 3] },
  { a: [1, 5, 7], b: [4, 7, 3] },
  { a: [3, 2, 4, 6], b: [3, 2, 6, 5] },
  { a: [128, 64], b: [64, 10] },
];

for (const { a, b } of shapes) {
  for (const transposeA of [false, true]) {
    for (const transposeB of [false, true]) {
      test(`BatchMatMul matches cpu: a [${a}] b [${b}] transposeA ${transposeA} transposeB ${transposeB}`, async () => {
        const swap = (s: number[]) => [
          ...s.slice(0, -2),
          s[s.length - 1],
          s[s.length - 2],
        ];
        const aShape = transposeA ? swap(a) : a;
        const bShape = transposeB ? swap(b) : b;
        const av = randomValues(sizeOf(aShape), 11);
        const bv = randomValues(sizeOf(bShape), 12);
        const { error } = await compareWithCpu(() =>
          tf.matMul(tf.tensor(av, aShape), tf.tensor(bv, bShape), transposeA, transposeB),
        );
        assert.ok(error < BOUND, `relative error ${error} >= ${BOUND}`);
      });
    }
  }
}

test('a dense layer gradient (x^T dy) matches cpu', async () => {
  const xv = randomValues(32 * 20, 13);
  const wv = randomValues(20 * 6, 14);
  const { error } = await compareWithCpu(() =>
    tf.grad((w: tf.Tensor) =>
      tf.sum(tf.square(tf.matMul(tf.tensor2d(xv, [32, 20]), w as tf.Tensor2D))),
    )(tf.tensor2d(wv, [20, 6])),
  );
  assert.ok(error < BOUND, `relative error ${error}`);
});
