import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import {
  convOutputShape,
  describeConvCase,
  gradientCases,
  runBackpropFilter,
} from './conv-cases.js';
import {
  type FilterGradientStrategy,
  setFilterGradientStrategy,
} from './conv2d-backprop-filter.js';
import { compareWithCpu, randomValues, readyBackends, sizeOf } from './reference.js';
import { UnsupportedKernelCaseError } from './wasm-kernel-utils.js';

/** Relative error bound: max |wasm - cpu| / (max |cpu| + 1e-12). */
const BOUND = 1e-4;

before(readyBackends);

const strategies: FilterGradientStrategy[] = [
  'auto',
  'gradient-as-filter',
  'input-as-filter',
];

for (const c of gradientCases) {
  test(`Conv2DBackpropFilter matches cpu: ${describeConvCase(c)}`, async () => {
    const xv = randomValues(sizeOf(c.x), 1);
    const dyShape = convOutputShape(c);
    const dyv = randomValues(sizeOf(dyShape), 2);
    for (const strategy of strategies) {
      const previous = setFilterGradientStrategy(strategy);
      try {
        const { error, wasm } = await compareWithCpu(() =>
          runBackpropFilter(c, xv, dyShape, dyv),
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
