import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import {
  compareWithCpu,
  errorsByVariable,
  randomValues,
  seededVariables,
  trainingBatchNorm,
} from '../kernels/reference.js';
import { nativeCallCounts } from './common.js';
import { nativeTests } from './test-support.js';

/** Relative error bound per variable: max |native - cpu| / (max |cpu| + 1e-12) < 1e-4. */
const BOUND = 1e-4;

const gate = nativeTests();

const shapes: Record<string, number[]> = {
  w1: [3, 3, 3, 8],
  b1: [8],
  gamma1: [8],
  beta1: [8],
  w2: [3, 3, 8, 12],
  gamma2: [12],
  beta2: [12],
  w3: [3, 3, 12, 16],
  w4: [16, 12],
  b4: [12],
  w5: [12, 5],
  b5: [5],
};

/**
 * Gradients, with respect to every variable and flattened in the order of
 * `shapes`, of a small CNN shaped like vicinal's student: conv (+bias) ->
 * ReLU -> max pool -> batchnorm, conv -> max pool (same padding) ->
 * batchnorm -> ReLU, a stride-2 conv -> ReLU, global average pool, a dense
 * ReLU layer (unfused under gradients: BatchMatMul), a dense classifier
 * (_FusedMatMul with its bias), softmax cross-entropy.
 */
function netGradients(): tf.Tensor {
  const vars = seededVariables(shapes, 50);
  const x = tf.tensor4d(randomValues(6 * 15 * 15 * 3, 70), [6, 15, 15, 3]);
  const labels = tf.oneHot(tf.tensor1d([0, 3, 1, 4, 2, 2], 'int32'), 5);
  const loss = () => {
    let h = tf.fused.conv2d({
      x,
      filter: vars.w1 as tf.Tensor4D,
      strides: 1,
      pad: 'same',
      bias: vars.b1,
    });
    // ReLU before batchnorm: otherwise batchnorm cancels the bias exactly
    // and its gradient is rounding noise on both backends.
    h = tf.maxPool(tf.relu(h), 2, 2, 'valid');
    h = trainingBatchNorm(h, vars.gamma1, vars.beta1);
    h = tf.conv2d(h, vars.w2 as tf.Tensor4D, 1, 'same');
    h = tf.maxPool(h, 2, 2, 'same');
    h = tf.relu(trainingBatchNorm(h, vars.gamma2, vars.beta2));
    h = tf.relu(tf.conv2d(h, vars.w3 as tf.Tensor4D, 2, 'valid'));
    const pooled = tf.mean(h, [1, 2]) as tf.Tensor2D;
    const hidden = tf.fused.matMul({
      a: pooled,
      b: vars.w4 as tf.Tensor2D,
      bias: vars.b4,
      activation: 'relu',
    });
    const logits = tf.fused.matMul({
      a: hidden,
      b: vars.w5 as tf.Tensor2D,
      bias: vars.b5,
    });
    return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
  };
  const list = Object.keys(shapes).map((k) => vars[k]);
  const { grads } = tf.variableGrads(loss, list);
  const flat = tf.concat(list.map((v) => tf.reshape(grads[v.name], [-1])));
  for (const v of list) v.dispose();
  return flat;
}

const KERNELS = [
  'FusedConv2D',
  'Conv2D',
  'Conv2DBackpropInput',
  'Conv2DBackpropFilter',
  'MaxPool',
  'MaxPoolGrad',
  'FusedBatchNorm',
  'VicinalBatchNormGradSums',
  'BatchMatMul',
  '_FusedMatMul',
];

test(
  'a small CNN: the full gradient with native kernels matches cpu, variable by variable',
  gate,
  async () => {
    const before = new Map(KERNELS.map((k) => [k, nativeCallCounts.get(k)?.native ?? 0]));
    const { wasm, cpu } = await compareWithCpu(netGradients);
    for (const k of KERNELS) {
      const calls = (nativeCallCounts.get(k)?.native ?? 0) - (before.get(k) ?? 0);
      assert.ok(calls > 0, `${k}: the native kernel ran (${calls} calls)`);
    }
    for (const { name, error, scale } of errorsByVariable(
      wasm.values,
      cpu.values,
      shapes,
    )) {
      assert.ok(scale > 0, `${name}: the gradient is not all zero`);
      assert.ok(error < BOUND, `${name}: relative error ${error}`);
    }
  },
);
