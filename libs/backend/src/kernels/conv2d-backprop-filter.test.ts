import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import {
  type FilterGradientStrategy,
  setFilterGradientStrategy,
} from './conv2d-backprop-filter.js';
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
  { x: [8, 14, 14, 8], filter: [3, 3, 8, 16], strides: 1, pad: 'same' },
];

before(readyBackends);

const strategies: FilterGradientStrategy[] = [
  'auto',
  'gradient-as-filter',
  'input-as-filter',
];

for (const c of cases) {
  test(`Conv2DBackpropFilter matches cpu: x [${c.x}] filter [${c.filter}] strides ${JSON.stringify(c.strides)} pad ${JSON.stringify(c.pad)}`, async () => {
    const xv = randomValues(sizeOf(c.x), 1);
    const dyShape = await outputShape(c);
    const dyv = randomValues(sizeOf(dyShape), 2);
    for (const strategy of strategies) {
      const previous = setFilterGradientStrategy(strategy);
      try {
        const { error, wasm } = await compareWithCpu(() =>
          tf
            .engine()
            .runKernel(
              'Conv2DBackpropFilter',
              { x: tf.tensor4d(xv, c.x), dy: tf.tensor(dyv, dyShape) },
              {
                strides: c.strides,
                pad: c.pad,
                dataFormat: 'NHWC',
                filterShape: c.filter,
              } as never,
            ),
        );
        assert.deepEqual(wasm.shape, c.filter);
        assert.ok(error < BOUND, `${strategy}: relative error ${error} >= ${BOUND}`);
      } finally {
        setFilterGradientStrategy(previous);
      }
    }
  });
}

test('the conv2d filter gradient through tf.grad matches cpu', async () => {
  const xv = randomValues(2 * 9 * 9 * 3, 3);
  const wv = randomValues(3 * 3 * 3 * 4, 4);
  const { error } = await compareWithCpu(() =>
    tf.grad((w: tf.Tensor) =>
      tf.sum(
        tf.square(tf.conv2d(tf.tensor4d(xv, [2, 9, 9, 3]), w as tf.Tensor4D, 2, 'same')),
      ),
    )(tf.tensor4d(wv, [3, 3, 3, 4])),
  );
  assert.ok(error < BOUND, `relative error ${error}`);
});

test('NCHW is refused by name, a wrong dy shape names the field', async () => {
  const x = tf.zeros([1, 2, 5, 5]);
  const dy = tf.zeros([1, 2, 5, 5]);
  assert.throws(
    () =>
      tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, {
        strides: 1,
        pad: 'same',
        dataFormat: 'NCHW',
        filterShape: [3, 3, 2, 2],
      } as never),
    (err: Error) => err instanceof UnsupportedKernelCaseError && /NCHW/.test(err.message),
  );
  const x2 = tf.zeros([1, 5, 5, 2]);
  const badDy = tf.zeros([1, 4, 4, 2]);
  assert.throws(
    () =>
      tf.engine().runKernel('Conv2DBackpropFilter', { x: x2, dy: badDy }, {
        strides: 1,
        pad: 'same',
        dataFormat: 'NHWC',
        filterShape: [3, 3, 2, 2],
      } as never),
    /dy expected shape \[1,5,5,2\], got \[1,4,4,2\]/,
  );
  tf.dispose([x, dy, x2, badDy]);
});

async function outputShape(c: Case): Promise<number[]> {
  return tf.tidy(
    () =>
      tf.conv2d(
        tf.zeros(c.x) as tf.Tensor4D,
        tf.zeros(c.filter) as tf.Tensor4D,
        c.strides,
        c.pad,
      ).shape,
  );
}
