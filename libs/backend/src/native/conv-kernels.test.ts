import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import {
  type ConvCase,
  convOutputShape,
  describeConvCase,
  runBackpropFilter,
  runBackpropInput,
  unevenPad,
} from '../kernels/conv-cases.js';
import { compareWithCpu, randomValues, sizeOf } from '../kernels/reference.js';
import { nativeCallCounts, setNativeKernelsActive } from './common.js';
import { nativeCallsDuring, nativeTests } from './test-support.js';

/**
 * Relative error bound for every native kernel against the pure-JS cpu
 * backend: max |native - cpu| / (max |cpu| + 1e-12) < 1e-4 (float32 sums in
 * a different order; observed errors are around 1e-7..1e-6).
 */
const BOUND = 1e-4;

const gate = nativeTests();

const forwardCases: ConvCase[] = [
  { x: [2, 9, 9, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'same' },
  { x: [2, 9, 9, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'valid' },
  { x: [3, 8, 9, 2], filter: [3, 3, 2, 5], strides: 2, pad: 'same' },
  { x: [3, 8, 9, 2], filter: [3, 3, 2, 5], strides: 2, pad: 'valid' },
  { x: [1, 10, 10, 2], filter: [3, 3, 2, 3], strides: 3, pad: 'valid' },
  { x: [2, 9, 8, 3], filter: [5, 5, 3, 2], strides: [2, 1], pad: 'same' },
  { x: [2, 6, 5, 2], filter: [2, 3, 2, 3], strides: [2, 1], pad: unevenPad },
  { x: [2, 11, 11, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'same', dilations: 2 },
  {
    x: [1, 12, 10, 2],
    filter: [3, 2, 2, 3],
    strides: 1,
    pad: 'valid',
    dilations: [2, 3],
  },
  { x: [5, 7, 7, 4], filter: [1, 1, 4, 6], strides: 1, pad: 'valid' },
  { x: [4, 28, 28, 1], filter: [3, 3, 1, 16], strides: 1, pad: 'same' },
  { x: [8, 14, 14, 16], filter: [3, 3, 16, 32], strides: 1, pad: 'same' },
  { x: [3, 8, 8, 32], filter: [3, 3, 32, 64], strides: 1, pad: 'same' },
];

for (const c of forwardCases) {
  test(`Conv2D (native) matches cpu: ${describeConvCase(c)}`, gate, async () => {
    const xv = randomValues(sizeOf(c.x), 1);
    const wv = randomValues(sizeOf(c.filter), 2);
    let error = Number.NaN;
    const calls = await nativeCallsDuring('Conv2D', async () => {
      ({ error } = await compareWithCpu(() =>
        tf.conv2d(
          tf.tensor4d(xv, c.x),
          tf.tensor4d(wv, c.filter),
          c.strides,
          c.pad,
          'NHWC',
          c.dilations ?? 1,
        ),
      ));
    });
    assert.equal(calls, 1, 'the native Conv2D ran once (on wasm)');
    assert.ok(error < BOUND, `relative error ${error} >= ${BOUND}`);
  });
}

const activations = ['linear', 'relu', 'relu6', 'elu', 'leakyrelu', 'sigmoid'] as const;
for (const activation of activations) {
  for (const withBias of [true, false]) {
    const c = forwardCases[2];
    test(
      `FusedConv2D (native) matches cpu: ${activation}, bias ${withBias}, ${describeConvCase(c)}`,
      gate,
      async () => {
        const xv = randomValues(sizeOf(c.x), 3);
        const wv = randomValues(sizeOf(c.filter), 4);
        const bv = randomValues(c.filter[3], 5);
        let error = Number.NaN;
        const calls = await nativeCallsDuring('FusedConv2D', async () => {
          ({ error } = await compareWithCpu(() =>
            tf.fused.conv2d({
              x: tf.tensor4d(xv, c.x),
              filter: tf.tensor4d(wv, c.filter),
              strides: c.strides,
              pad: c.pad,
              bias: withBias ? tf.tensor1d(bv) : undefined,
              activation,
              leakyreluAlpha: 0.15,
            }),
          ));
        });
        assert.equal(calls, 1, 'the native FusedConv2D ran once (on wasm)');
        assert.ok(error < BOUND, `relative error ${error} >= ${BOUND}`);
      },
    );
  }
}

test(
  'FusedConv2D with PReLU runs the wasm kernel and still matches cpu',
  gate,
  async () => {
    const c = forwardCases[0];
    const before = nativeCallCounts.get('FusedConv2D')?.fallback ?? 0;
    const { error } = await compareWithCpu(() =>
      tf.fused.conv2d({
        x: tf.tensor4d(randomValues(sizeOf(c.x), 6), c.x),
        filter: tf.tensor4d(randomValues(sizeOf(c.filter), 7), c.filter),
        strides: c.strides,
        pad: c.pad,
        bias: tf.tensor1d(randomValues(c.filter[3], 8)),
        activation: 'prelu',
        preluActivationWeights: tf.tensor1d(randomValues(c.filter[3], 9)),
      }),
    );
    assert.equal((nativeCallCounts.get('FusedConv2D')?.fallback ?? 0) - before, 1);
    assert.ok(error < BOUND, `relative error ${error}`);
  },
);

// The backward kernels have no dilation in TensorFlow.js.
const backwardCases = forwardCases.filter((c) => (c.dilations ?? 1) === 1);

for (const c of backwardCases) {
  test(
    `Conv2DBackpropInput (native) matches cpu: ${describeConvCase(c)}`,
    gate,
    async () => {
      const dyShape = convOutputShape(c);
      const dyv = randomValues(sizeOf(dyShape), 10);
      const wv = randomValues(sizeOf(c.filter), 11);
      let result = { error: Number.NaN, wasm: { shape: [] as number[] } };
      const calls = await nativeCallsDuring('Conv2DBackpropInput', async () => {
        result = await compareWithCpu(() => runBackpropInput(c, dyShape, dyv, wv));
      });
      assert.equal(calls, 1, 'the native Conv2DBackpropInput ran once (on wasm)');
      assert.deepEqual(result.wasm.shape, c.x);
      assert.ok(result.error < BOUND, `relative error ${result.error} >= ${BOUND}`);
    },
  );

  test(
    `Conv2DBackpropFilter (native) matches cpu: ${describeConvCase(c)}`,
    gate,
    async () => {
      const dyShape = convOutputShape(c);
      const xv = randomValues(sizeOf(c.x), 12);
      const dyv = randomValues(sizeOf(dyShape), 13);
      let result = { error: Number.NaN, wasm: { shape: [] as number[] } };
      const calls = await nativeCallsDuring('Conv2DBackpropFilter', async () => {
        result = await compareWithCpu(() => runBackpropFilter(c, xv, dyShape, dyv));
      });
      assert.equal(calls, 1, 'the native Conv2DBackpropFilter ran once (on wasm)');
      assert.deepEqual(result.wasm.shape, c.filter);
      assert.ok(result.error < BOUND, `relative error ${result.error} >= ${BOUND}`);
    },
  );
}

test('conv2d input and filter gradients through tf.grads match cpu', gate, async () => {
  const c = forwardCases[2];
  const xv = randomValues(sizeOf(c.x), 14);
  const wv = randomValues(sizeOf(c.filter), 15);
  const { error } = await compareWithCpu(() => {
    const [dx, dw] = tf.grads((x: tf.Tensor, w: tf.Tensor) =>
      tf.sum(tf.square(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.strides, c.pad))),
    )([tf.tensor4d(xv, c.x), tf.tensor4d(wv, c.filter)]);
    return tf.concat([tf.reshape(dx, [-1]), tf.reshape(dw, [-1])]);
  });
  assert.ok(error < BOUND, `relative error ${error}`);
});

test(
  'a call while the native kernels are switched off runs the wasm kernel',
  gate,
  async () => {
    const c = forwardCases[0];
    const before = nativeCallCounts.get('Conv2D')?.fallback ?? 0;
    setNativeKernelsActive(false);
    try {
      const { error } = await compareWithCpu(() =>
        tf.conv2d(
          tf.tensor4d(randomValues(sizeOf(c.x), 16), c.x),
          tf.tensor4d(randomValues(sizeOf(c.filter), 17), c.filter),
          c.strides,
          c.pad,
        ),
      );
      assert.ok(error < BOUND, `relative error ${error}`);
    } finally {
      setNativeKernelsActive(true);
    }
    assert.equal((nativeCallCounts.get('Conv2D')?.fallback ?? 0) - before, 1);
  },
);
