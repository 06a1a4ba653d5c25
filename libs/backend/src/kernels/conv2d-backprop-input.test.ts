import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { compareWithCpu, randomValues, readyBackends, sizeOf } from './reference.js';
import { UnsupportedKernelCaseError } from './wasm-kernel-utils.js';

/** Relative error bound: max |wasm - cpu| / (max |cpu| + 1e-12). */
const BOUND = 1e-4;

type Pad = 'same' | 'valid' | [[0, 0], [number, number], [number, number], [0, 0]];
interface Case {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: number | [number, number];
  pad: Pad;
}

const cases: Case[] = [
  { x: [2, 7, 7, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'same' },
  { x: [2, 7, 7, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'valid' },
  { x: [3, 8, 9, 2], filter: [3, 2, 2, 5], strides: 2, pad: 'same' },
  { x: [3, 8, 9, 2], filter: [3, 3, 2, 5], strides: 2, pad: 'valid' },
  { x: [1, 10, 10, 2], filter: [3, 3, 2, 3], strides: 3, pad: 'valid' },
  { x: [2, 9, 8, 3], filter: [5, 5, 3, 2], strides: [2, 1], pad: 'same' },
  {
    x: [2, 6, 5, 2],
    filter: [2, 3, 2, 3],
    strides: [2, 1],
    pad: [
      [0, 0],
      [1, 2],
      [0, 3],
      [0, 0],
    ],
  },
  {
    x: [2, 6, 6, 1],
    filter: [2, 2, 1, 3],
    strides: 1,
    pad: [
      [0, 0],
      [3, 1],
      [2, 2],
      [0, 0],
    ],
  },
  { x: [4, 28, 28, 1], filter: [3, 3, 1, 8], strides: 1, pad: 'same' },
  { x: [2, 9, 8, 1], filter: [3, 3, 1, 4], strides: 2, pad: 'same' },
  { x: [2, 9, 8, 1], filter: [2, 3, 1, 4], strides: [1, 2], pad: 'valid' },
  { x: [8, 14, 14, 8], filter: [3, 3, 8, 16], strides: 1, pad: 'same' },
];

before(readyBackends);

for (const c of cases) {
  test(`Conv2DBackpropInput matches cpu: x [${c.x}] filter [${c.filter}] strides ${JSON.stringify(c.strides)} pad ${JSON.stringify(c.pad)}`, async () => {
    const fv = randomValues(sizeOf(c.filter), 5);
    const dyShape = tf.tidy(
      () =>
        tf.conv2d(
          tf.zeros(c.x) as tf.Tensor4D,
          tf.zeros(c.filter) as tf.Tensor4D,
          c.strides,
          c.pad,
        ).shape,
    );
    const dyv = randomValues(sizeOf(dyShape), 6);
    const { error, wasm } = await compareWithCpu(() =>
      tf
        .engine()
        .runKernel(
          'Conv2DBackpropInput',
          { dy: tf.tensor(dyv, dyShape), filter: tf.tensor4d(fv, c.filter) },
          {
            strides: c.strides,
            pad: c.pad,
            dataFormat: 'NHWC',
            inputShape: c.x,
          } as never,
        ),
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
