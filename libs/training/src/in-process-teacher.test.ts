import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type * as tfl from '@tensorflow/tfjs-layers';
import { initBackend, tf } from '@vicinal/backend';
import { seededRandom, toNormalisedTensor } from '@vicinal/data';
import { createRandom, mixImages, sampleMixing } from '@vicinal/distillation';
import { buildModel } from '@vicinal/models';
import { InProcessTeacher } from './index.js';

const SHAPE: [number, number, number] = [28, 28, 1];
const B = 8;
const MEAN = [0.286];
const STD = [0.353];
let model: tfl.LayersModel;

before(async () => {
  await initBackend('wasm');
  model = buildModel('teacher-cnn', { inputShape: SHAPE, numClasses: 10, seed: 5 });
});

function randomImages(n: number, seed: number): Uint8Array {
  const random = seededRandom(seed);
  return Uint8Array.from({ length: n * 784 }, () => Math.floor(random() * 256));
}

/** The mixed batch as the student builds it (tf ops), through model.predict. */
function expectedLogits(
  images: Uint8Array,
  partner: Int32Array,
  lambda: Float32Array,
): Float32Array {
  const y = tf.tidy(() => {
    const clean = toNormalisedTensor(tf, images, MEAN, STD, SHAPE);
    return model.predict(mixImages(clean, partner, lambda)) as tf.Tensor;
  });
  const out = y.dataSync() as Float32Array;
  y.dispose();
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

test('gives model.predict logits on the batch mixed as the student mixes it', async () => {
  const teacher = new InProcessTeacher(model, { mean: MEAN, std: STD });
  const images = randomImages(B, 1);
  const { partner, lambda } = sampleMixing(createRandom(3), B, { alpha: 1, p: 1 });
  assert.ok(
    lambda.some((l) => l > 0 && l < 1),
    'the batch is really mixed',
  );
  const got = await teacher.softLabels({ images, shape: [B, ...SHAPE], partner, lambda });
  const want = expectedLogits(images, partner, lambda);
  assert.equal(got.length, B * 10);
  assert.ok(got.every(Number.isFinite));
  assert.ok(maxAbsDiff(got, want) <= 1e-5, `max |diff| ${maxAbsDiff(got, want)}`);
  // A different mixing gives different logits: the mixing is really applied.
  const identity = Int32Array.from({ length: B }, (_, i) => i);
  const clean = await teacher.softLabels({
    images,
    shape: [B, ...SHAPE],
    partner: identity,
    lambda: new Float32Array(B).fill(1),
  });
  assert.ok(maxAbsDiff(clean, got) > 1e-3);
  assert.ok(
    maxAbsDiff(clean, expectedLogits(images, identity, new Float32Array(B).fill(1))) <=
      1e-5,
  );
  await teacher.close();
});

test('reports its kind and model and frees every tensor it makes', async () => {
  const teacher = new InProcessTeacher(model, { mean: MEAN, std: STD, model: 'tc' });
  assert.equal(teacher.kind, 'in-process');
  assert.equal(teacher.model, 'tc');
  const images = randomImages(B, 2);
  const { partner, lambda } = sampleMixing(createRandom(4), B, { alpha: 1, p: 1 });
  const query = { images, shape: [B, ...SHAPE] as [number, number, number, number] };
  await teacher.softLabels({ ...query, partner, lambda });
  const before = tf.memory().numTensors;
  await teacher.softLabels({ ...query, partner, lambda });
  assert.equal(tf.memory().numTensors, before);
  await teacher.close();
});

test('refuses mismatched images, normalisation and use after close', async () => {
  assert.throws(
    () => new InProcessTeacher(model, { mean: [0.1, 0.2, 0.3], std: [1, 1, 1] }),
    /mean: expected 1 values/,
  );
  assert.throws(
    () => new InProcessTeacher(model, { mean: MEAN, std: [] }),
    /std: expected 1 values/,
  );
  const teacher = new InProcessTeacher(model, { mean: MEAN, std: STD });
  const partner = Int32Array.from({ length: B }, (_, i) => i);
  const lambda = new Float32Array(B).fill(1);
  await assert.rejects(
    teacher.softLabels({
      images: new Uint8Array(10),
      shape: [B, ...SHAPE],
      partner,
      lambda,
    }),
    /images: expected 6272 bytes/,
  );
  await teacher.close();
  await assert.rejects(
    teacher.softLabels({
      images: randomImages(B, 3),
      shape: [B, ...SHAPE],
      partner,
      lambda,
    }),
    /after close/,
  );
});
