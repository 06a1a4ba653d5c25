import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { compareWithCpu, randomValues, sizeOf } from '../kernels/reference.js';
import { nativeCallsDuring, nativeTests } from './test-support.js';

/**
 * Relative error bound against the pure-JS cpu backend:
 * max |native - cpu| / (max |cpu| + 1e-12) < 1e-6. MaxPool selects values,
 * so it is exact; its gradient adds at most a few dy values per position.
 */
const BOUND = 1e-6;

const gate = nativeTests();

interface PoolCase {
  x: [number, number, number, number];
  size: number | [number, number];
  strides: number | [number, number];
  pad: 'same' | 'valid';
}

const cases: PoolCase[] = [
  { x: [2, 8, 8, 3], size: 2, strides: 2, pad: 'valid' },
  { x: [2, 9, 9, 3], size: 2, strides: 2, pad: 'same' },
  { x: [3, 9, 7, 4], size: 3, strides: 2, pad: 'same' },
  { x: [1, 10, 10, 2], size: 3, strides: 1, pad: 'same' },
  { x: [2, 11, 9, 5], size: [3, 2], strides: [2, 3], pad: 'valid' },
  { x: [4, 28, 28, 16], size: 2, strides: 2, pad: 'valid' },
  { x: [5, 14, 14, 32], size: 2, strides: 2, pad: 'valid' },
];

function describe(c: PoolCase): string {
  return `x [${c.x}] size ${JSON.stringify(c.size)} strides ${JSON.stringify(c.strides)} pad ${c.pad}`;
}

for (const c of cases) {
  test(`MaxPool (native) matches cpu: ${describe(c)}`, gate, async () => {
    const xv = randomValues(sizeOf(c.x), 1);
    let error = Number.NaN;
    const calls = await nativeCallsDuring('MaxPool', async () => {
      ({ error } = await compareWithCpu(() =>
        tf.maxPool(tf.tensor4d(xv, c.x), c.size, c.strides, c.pad),
      ));
    });
    assert.equal(calls, 1, 'the native MaxPool ran once (on wasm)');
    assert.ok(error < BOUND, `relative error ${error} >= ${BOUND}`);
  });

  test(`MaxPoolGrad (native) matches cpu: ${describe(c)}`, gate, async () => {
    const xv = randomValues(sizeOf(c.x), 2);
    const outShape = tf.tidy(
      () => tf.maxPool(tf.zeros(c.x) as tf.Tensor4D, c.size, c.strides, c.pad).shape,
    );
    const weights = randomValues(sizeOf(outShape), 3);
    let error = Number.NaN;
    const calls = await nativeCallsDuring('MaxPoolGrad', async () => {
      ({ error } = await compareWithCpu(() =>
        tf.grad((x: tf.Tensor) =>
          tf.sum(
            tf.mul(
              tf.maxPool(x as tf.Tensor4D, c.size, c.strides, c.pad),
              tf.tensor(weights, outShape),
            ),
          ),
        )(tf.tensor4d(xv, c.x)),
      ));
    });
    assert.equal(calls, 1, 'the native MaxPoolGrad ran once (on wasm)');
    assert.ok(error < BOUND, `relative error ${error} >= ${BOUND}`);
  });
}

test(
  'MaxPoolGrad sends a tie to the first maximum of the window, as cpu does',
  gate,
  async () => {
    const x = [1, 3, 3, 1, 2, 3, 0, 3, 2, 2, 2, 2, 0, 1, 1, 0];
    const { error, wasm } = await compareWithCpu(() =>
      tf.grad((t: tf.Tensor) => tf.sum(tf.maxPool(t as tf.Tensor4D, 2, 2, 'valid')))(
        tf.tensor4d(x, [1, 4, 4, 1]),
      ),
    );
    assert.equal(error, 0);
    assert.deepEqual(
      Array.from(wasm.values),
      [0, 1, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0],
    );
  },
);
