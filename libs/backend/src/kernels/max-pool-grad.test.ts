import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { compareWithCpu, randomValues, readyBackends, sizeOf } from './reference.js';

/** Relative error bound: max |wasm - cpu| / (max |cpu| + 1e-12). */
const BOUND = 1e-6;

before(readyBackends);

interface Case {
  x: [number, number, number, number];
  size: number | [number, number];
  strides: number | [number, number];
  pad: 'same' | 'valid';
}

const cases: Case[] = [
  { x: [2, 8, 8, 3], size: 2, strides: 2, pad: 'valid' },
  { x: [2, 7, 9, 3], size: 2, strides: 2, pad: 'valid' },
  { x: [2, 7, 9, 3], size: 2, strides: 2, pad: 'same' },
  { x: [2, 9, 9, 2], size: 3, strides: 2, pad: 'same' },
  { x: [1, 6, 6, 4], size: 3, strides: 1, pad: 'same' },
  { x: [2, 8, 6, 2], size: [3, 2], strides: [1, 2], pad: 'valid' },
];

/**
 * Inputs with many ties: values quantised to a few levels and then passed
 * through ReLU, as max pooling sees them in a conv net. Ties must send the
 * gradient to the first maximum in the window, as on cpu.
 */
function tiedValues(n: number, seed: number): Float32Array {
  return randomValues(n, seed).map((v) => Math.max(0, Math.round(v * 3) / 3));
}

for (const c of cases) {
  for (const [label, values] of [
    ['random', randomValues],
    ['tied', tiedValues],
  ] as const) {
    test(`MaxPoolGrad matches cpu (${label}): x [${c.x}] size ${JSON.stringify(c.size)} strides ${JSON.stringify(c.strides)} ${c.pad}`, async () => {
      const xv = values(sizeOf(c.x), 15);
      const { error, wasm } = await compareWithCpu(() => {
        const x = tf.tensor4d(xv, c.x);
        const y = tf.maxPool(x, c.size, c.strides, c.pad);
        const weights = tf.tensor(randomValues(y.size, 16), y.shape);
        return tf.grad((t: tf.Tensor) =>
          tf.sum(tf.mul(tf.maxPool(t as tf.Tensor4D, c.size, c.strides, c.pad), weights)),
        )(x);
      });
      assert.deepEqual(wasm.shape, c.x);
      assert.ok(error < BOUND, `relative error ${error} >= ${BOUND}`);
    });
  }
}

test('AvgPoolGrad (shipped wasm kernel) matches cpu', async () => {
  for (const c of cases) {
    const xv = randomValues(sizeOf(c.x), 17);
    const { error } = await compareWithCpu(() => {
      const x = tf.tensor4d(xv, c.x);
      const y = tf.avgPool(x, c.size, c.strides, c.pad);
      const weights = tf.tensor(randomValues(y.size, 18), y.shape);
      return tf.grad((t: tf.Tensor) =>
        tf.sum(tf.mul(tf.avgPool(t as tf.Tensor4D, c.size, c.strides, c.pad), weights)),
      )(x);
    });
    assert.ok(error < 1e-5, `avgPool ${JSON.stringify(c)}: relative error ${error}`);
  }
});
