import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import '@tensorflow/tfjs-backend-cpu';
import type * as tfl from '@tensorflow/tfjs-layers';
import { initBackend, tf } from '@vicinal/backend';
import { countParameters } from './parameters.js';
import { buildModel, listModels } from './registry.js';
import { RESNETS } from './resnet.js';
import { STUDENT_CNN } from './student-cnn.js';
import { TEACHER_CNN } from './teacher-cnn.js';
import { WIDE_RESNETS } from './wide-resnet.js';

before(async () => {
  await initBackend('wasm');
  // The cpu backend is the reference for the gradients below.
  await tf.setBackend('cpu');
  await tf.setBackend('wasm');
});

/**
 * Weights of a CIFAR-style ResNet counted from its definition: a 3x3 stem, three
 * stages of `blocks` basic blocks (two 3x3 convs without bias, each with
 * batchnorm: gamma, beta, moving mean and variance), a 1x1 projection with
 * batchnorm where the shape changes, and a dense classifier.
 */
function expectedWeights(blocks: number, width: number, channels: number, k: number) {
  const conv = (size: number, cin: number, cout: number) => size * size * cin * cout;
  const bn = (c: number) => 4 * c;
  let total = conv(3, channels, width) + bn(width);
  let cin = width;
  for (let stage = 0; stage < 3; stage++) {
    const f = width * 2 ** stage;
    for (let b = 0; b < blocks; b++) {
      total += conv(3, cin, f) + bn(f) + conv(3, f, f) + bn(f);
      if (cin !== f) total += conv(1, cin, f) + bn(f);
      cin = f;
    }
  }
  return total + cin * k + k;
}

const families = { ...RESNETS, ...WIDE_RESNETS };

test('the registry holds the ResNets, the wide ResNets and the small CNNs', () => {
  const names = listModels();
  for (const name of [...Object.keys(families), TEACHER_CNN, STUDENT_CNN]) {
    assert.ok(names.includes(name), name);
  }
});

test('parameter counts follow the architecture, for grey and colour inputs', () => {
  for (const [name, shape] of Object.entries(families)) {
    for (const [inputShape, k] of [
      [[28, 28, 1], 10],
      [[32, 32, 3], 100],
    ] as const) {
      const model = buildModel(name, { inputShape, numClasses: k, seed: 1 });
      assert.equal(
        countParameters(model),
        expectedWeights(shape.blocks, shape.width, inputShape[2], k),
        `${name} ${inputShape}`,
      );
      // Depth 6n + 2 weighted layers: every conv (projections aside) and the classifier.
      const convs = model.layers.filter(
        (l) => l.getClassName() === 'Conv2D' && !l.name.endsWith('_proj'),
      );
      assert.equal(convs.length + 1, 6 * shape.blocks + 2, name);
      model.dispose();
    }
  }
  // The capacities span an order of magnitude: the sizes the papers quote for
  // CIFAR-10 (about 0.27M for resnet20, 0.85M for resnet56).
  const size = (name: string) => {
    const m = buildModel(name, { inputShape: [32, 32, 3], numClasses: 10, seed: 1 });
    const n = countParameters(m, { trainableOnly: true });
    m.dispose();
    return n;
  };
  const r20 = size('resnet20');
  const r56 = size('resnet56');
  assert.ok(r20 > 260_000 && r20 < 290_000, `resnet20 ${r20}`);
  assert.ok(r56 > 840_000 && r56 < 880_000, `resnet56 ${r56}`);
  assert.ok(size('resnet8') < r20 && r20 < size('resnet32') && size('resnet32') < r56);
  assert.ok(size('wrn-16-4') > 2 * size('wrn-16-2'));
});

/** A fixed batch and the cross-entropy of the model on it, in training mode. */
function batch(n: number) {
  const values = Float32Array.from({ length: n * 28 * 28 }, (_, i) => Math.sin(i * 0.37));
  const labels = Array.from({ length: n }, (_, i) => i % 10);
  return { values, labels };
}

function lossOf(model: tfl.LayersModel, b: ReturnType<typeof batch>): tf.Scalar {
  const x = tf.tensor4d(b.values, [b.labels.length, 28, 28, 1]);
  const y = tf.oneHot(tf.tensor1d(b.labels, 'int32'), 10);
  const logits = model.apply(x, { training: true }) as tf.Tensor;
  return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
}

function gradients(model: tfl.LayersModel, b: ReturnType<typeof batch>): Float32Array[] {
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const { grads } = tf.variableGrads(() => lossOf(model, b), vars);
  const out = vars.map((v) => grads[v.name].dataSync().slice() as Float32Array);
  for (const g of Object.values(grads)) g.dispose();
  return out;
}

test('a ResNet with strided convs and residual sums trains on wasm', async () => {
  const b = batch(8);
  await tf.setBackend('cpu');
  const reference = buildModel('resnet8', {
    inputShape: [28, 28, 1],
    numClasses: 10,
    seed: 5,
  });
  const cpu = gradients(reference, b);
  reference.dispose();
  await tf.setBackend('wasm');
  const model = buildModel('resnet8', {
    inputShape: [28, 28, 1],
    numClasses: 10,
    seed: 5,
  });
  const wasm = gradients(model, b);
  // Same initial weights on both backends, so the same gradients, layer by layer
  // (the stem, the strided convs, the projections, the classifier).
  assert.equal(wasm.length, cpu.length);
  for (let i = 0; i < wasm.length; i++) {
    let diff = 0;
    let scale = 0;
    for (let j = 0; j < wasm[i].length; j++) {
      diff = Math.max(diff, Math.abs(wasm[i][j] - cpu[i][j]));
      scale = Math.max(scale, Math.abs(cpu[i][j]));
    }
    assert.ok(scale > 0, `gradient of ${model.trainableWeights[i].name} is zero`);
    assert.ok(
      diff <= 1e-3 * scale,
      `${model.trainableWeights[i].name}: ${diff} vs ${scale}`,
    );
  }
  // Optimiser steps on wasm lower the loss on the batch and move every weight.
  const before = model.trainableWeights.map((w) => w.read().dataSync().slice());
  const optimizer = tf.train.adam(0.01);
  const first = tf.tidy(() => lossOf(model, b).dataSync()[0]);
  for (let step = 0; step < 5; step++) {
    tf.tidy(() => {
      optimizer.minimize(() => lossOf(model, b));
    });
  }
  const last = tf.tidy(() => lossOf(model, b).dataSync()[0]);
  assert.ok(Number.isFinite(last) && last < first, `loss ${first} -> ${last}`);
  model.trainableWeights.forEach((w, i) => {
    const now = w.read().dataSync();
    assert.ok(
      now.some((v, j) => v !== before[i][j]),
      `${w.name} did not change`,
    );
  });
  optimizer.dispose();
  model.dispose();
});
