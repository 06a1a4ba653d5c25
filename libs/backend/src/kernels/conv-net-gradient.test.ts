import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import {
  compareWithCpu,
  errorsByVariable,
  randomValues,
  readyBackends,
  seededVariables,
  trainingBatchNorm,
} from './reference.js';

/** Relative error bound per variable: max |wasm - cpu| / (max |cpu| + 1e-12). */
const BOUND = 1e-4;

before(readyBackends);

const shapes: Record<string, number[]> = {
  w1: [3, 3, 2, 6],
  b1: [6],
  w2: [3, 3, 6, 8],
  gamma2: [8],
  beta2: [8],
  w3: [8, 5],
  b3: [5],
};

/**
 * Gradients of a small conv net (fused conv+bias, max pool, ReLU, conv,
 * batchnorm, ReLU, global average pool, dense, softmax cross-entropy)
 * with respect to all its variables, flattened into one vector in the order
 * of `shapes`.
 */
function netGradients(): tf.Tensor {
  const vars = seededVariables(shapes, 30);
  const x = tf.tensor4d(randomValues(4 * 12 * 12 * 2, 40), [4, 12, 12, 2]);
  const labels = tf.oneHot(tf.tensor1d([0, 3, 1, 4], 'int32'), 5);
  const loss = () => {
    let h = tf.fused.conv2d({
      x,
      filter: vars.w1 as tf.Tensor4D,
      strides: 1,
      pad: 'same',
      bias: vars.b1,
    });
    h = tf.relu(tf.maxPool(h, 2, 2, 'valid'));
    h = tf.conv2d(h, vars.w2 as tf.Tensor4D, 1, 'same');
    h = tf.relu(trainingBatchNorm(h, vars.gamma2, vars.beta2));
    const pooled = tf.mean(h, [1, 2]) as tf.Tensor2D;
    const logits = tf.add(tf.matMul(pooled, vars.w3 as tf.Tensor2D), vars.b3);
    return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
  };
  const list = Object.keys(shapes).map((k) => vars[k]);
  const { grads } = tf.variableGrads(loss, list);
  const flat = tf.concat(list.map((v) => tf.reshape(grads[v.name], [-1])));
  for (const v of list) v.dispose();
  return flat;
}

test('the full gradient of a small conv net matches cpu, variable by variable', async () => {
  const { wasm, cpu } = await compareWithCpu(netGradients);
  for (const { name, error, scale } of errorsByVariable(
    wasm.values,
    cpu.values,
    shapes,
  )) {
    assert.ok(scale > 0, `${name}: the gradient is not all zero`);
    assert.ok(error < BOUND, `${name}: relative error ${error}`);
  }
});
