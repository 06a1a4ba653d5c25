import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import {
  type ConvCase,
  convOutputShape,
  describeConvCase,
  gradientCases,
  runBackpropInput,
} from './conv-cases.js';
import { compareWithCpu, randomValues, readyBackends, sizeOf } from './reference.js';
import { UnsupportedKernelCaseError } from './wasm-kernel-utils.js';

/** Relative error bound: max |wasm - cpu| / (max |cpu| + 1e-12). */
const BOUND = 1e-4;

// The shared geometries, plus single-channel inputs with strides, which take
// the matrix-product path.
const cases: ConvCase[] = [
  ...gradientCases,
  { x: [2, 9, 8, 1], filter: [3, 3, 1, 4], strides: 2, pad: 'same' },
  { x: [2, 9, 8, 1], filter: [2, 3, 1, 4], strides: [1, 2], pad: 'valid' },
];

before(readyBackends);

for (const c of cases) {
  test(`Conv2DBackpropInput matches cpu: ${describeConvCase(c)}`, async () => {
    const fv = randomValues(sizeOf(c.filter), 5);
    const dyShape = convOutputShape(c);
    const dyv = randomValues(sizeOf(dyShape), 6);
    const { error, wasm } = await compareWithCpu(() =>
      runBackpropInput(c, dyShape, dyv, fv),
    );
    assert.deepEqual(wasm.shape, c.x);
    assert.ok(error < BOUND, `relative error ${error} >= ${BOUND}`);
  });
}

test('conv2dTranspose (the public op on this kernel) matches cpu', async () => {
  const xv = randomValues(2 * 5 * 5 * 4, 7);
  const fv = randomValues(3 * 3 * 2 * 4, 8);
  const { error, wasm } = await compareWithCpu(() =>
    tf.conv2dTranspose(
      tf.tensor4d(xv, [2, 5, 5, 4]),
      tf.tensor4d(fv, [3, 3, 2, 4]),
      [2, 10, 10, 2],
      2,
      'same',
    ),
  );
  assert.deepEqual(wasm.shape, [2, 10, 10, 2]);
  assert.ok(error < BOUND, `relative error ${error}`);
});

test('NCHW is refused by name', () => {
  const dy = tf.zeros([1, 2, 5, 5]);
  const filter = tf.zeros([3, 3, 2, 2]);
  assert.throws(
    () =>
      tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, {
        strides: 1,
        pad: 'same',
        dataFormat: 'NCHW',
        inputShape: [1, 2, 5, 5],
      } as never),
    (err: Error) => err instanceof UnsupportedKernelCaseError && /NCHW/.test(err.message),
  );
  tf.dispose([dy, filter]);
});
