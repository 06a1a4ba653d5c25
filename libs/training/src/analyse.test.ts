import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend, tf } from '@vicinal/backend';
import { type ImageSplit, normalisePixels, seededRandom } from '@vicinal/data';
import { mixImagesArray } from '@vicinal/distillation';
import { softmax, VICINAL_EPSILON } from '@vicinal/metrics';
import { analyseVicinal, type VicinalTeacher } from './analyse.js';
import type { ImageSpec } from './train.js';

const SPEC: ImageSpec = { shape: [4, 4, 1], numClasses: 3, mean: [0.5], std: [0.25] };
const COUNT = 40;

before(async () => {
  await initBackend('cpu');
});

function split(label?: number): ImageSplit {
  const random = seededRandom(11);
  return {
    images: Uint8Array.from({ length: COUNT * 16 }, () => Math.floor(random() * 256)),
    labels: Uint8Array.from({ length: COUNT }, (_, i) => label ?? i % 3),
    count: COUNT,
  };
}

function tinyModel(seed: number): tfl.LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.flatten({ inputShape: SPEC.shape }),
      tfl.layers.dense({
        units: 6,
        activation: 'tanh',
        kernelInitializer: tfl.initializers.glorotUniform({ seed }),
      }),
      tfl.layers.dense({
        units: 3,
        kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }),
      }),
    ],
  });
}

/** A model whose logits are `bias` whatever the input. */
function constantModel(bias: number[]): tfl.LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.flatten({ inputShape: SPEC.shape }),
      tfl.layers.dense({
        units: 3,
        kernelInitializer: 'zeros',
        weights: [tf.zeros([16, 3]), tf.tensor1d(bias)],
      }),
    ],
  });
}

/** An in-process teacher built as a teacher server builds "mix on the teacher". */
function inProcess(model: tfl.LayersModel, seen: { lambdas: number[] }): VicinalTeacher {
  return async (query) => {
    const [b, h, w, c] = query.shape;
    seen.lambdas.push(...query.lambda);
    const clean = normalisePixels(query.images, SPEC.mean, SPEC.std);
    const mixed = mixImagesArray(clean, query.partner, query.lambda);
    const run = (data: Float32Array) =>
      tf.tidy(() => model.predict(tf.tensor4d(data, [b, h, w, c])) as tf.Tensor);
    const onMixed = run(mixed);
    const onClean = run(clean);
    const out = {
      mixed: onMixed.dataSync() as Float32Array,
      clean: onClean.dataSync() as Float32Array,
    };
    tf.dispose([onMixed, onClean]);
    return out;
  };
}

test('a seed gives one result; another seed another', async () => {
  const teacher = tinyModel(1);
  const student = tinyModel(7);
  const images = split();
  const run = (seed: number) =>
    analyseVicinal({
      student,
      teacher: inProcess(teacher, { lambdas: [] }),
      images,
      spec: SPEC,
      pairs: 100,
      batchSize: 32,
      seed,
    });
  const first = await run(3);
  const again = await run(3);
  const other = await run(4);
  assert.deepEqual(again, first);
  assert.notDeepEqual(other, first);
  assert.equal(first.pairs, 100);
  assert.equal(
    first.bins.count.reduce((a, b) => a + b, 0),
    100,
  );
  assert.equal(first.bins.count.length, 20);
  assert.equal(first.numClasses, 3);
  assert.ok(first.overall.nonLinearityTeacher! > 0);
  assert.ok(first.overall.nonLinearityStudent! > 0);
  assert.ok(first.overall.alignmentMixed! > 0);
});

test('the student equal to the teacher: no gain, no misalignment', async () => {
  const model = tinyModel(2);
  const seen = { lambdas: [] as number[] };
  const analysis = await analyseVicinal({
    student: model,
    teacher: inProcess(model, seen),
    images: split(),
    spec: SPEC,
    pairs: 90,
    batchSize: 32,
    seed: 1,
  });
  // batches of 32, 32 and 26 pairs (more pairs than images: a second pass)
  assert.equal(seen.lambdas.length, 90);
  assert.ok(seen.lambdas.every((l) => l >= 0 && l < 1));
  for (const name of [
    'linearityGain',
    'entropyGap',
    'alignmentMixed',
    'alignmentClean',
    'alignmentDegradation',
  ] as const) {
    assert.ok(
      Math.abs(analysis.overall[name]!) < 1e-6,
      `${name} ${analysis.overall[name]}`,
    );
  }
  assert.ok(analysis.overall.nonLinearityTeacher! > 1e-6);
});

test('a teacher blind to its input: L_NL 0, entropy and masses of softmax(bias)', async () => {
  const bias = [2, 0, -1];
  const teacher = constantModel(bias);
  const analysis = await analyseVicinal({
    student: tinyModel(5),
    teacher: inProcess(teacher, { lambdas: [] }),
    images: split(0),
    spec: SPEC,
    pairs: 64,
    batchSize: 16,
    seed: 9,
    bins: 4,
  });
  const p = softmax([bias], 1);
  const entropy = -Array.from(p).reduce(
    (sum, v) => sum + (v + VICINAL_EPSILON) * Math.log(v + VICINAL_EPSILON),
    0,
  );
  const { overall } = analysis;
  assert.equal(analysis.bins.count.length, 4);
  assert.ok(Math.abs(overall.nonLinearityTeacher!) < 1e-7);
  assert.ok(Math.abs(overall.entropyTeacher! - entropy) < 1e-6);
  // every image has label 0: one constituent class whatever the pair
  assert.ok(Math.abs(overall.constituentMass! - p[0]) < 1e-6);
  assert.ok(Math.abs(overall.restMass! - (p[1] + p[2])) < 1e-6);
  assert.ok(Math.abs(overall.darkKnowledge! - (1 - p[0])) < 1e-6);
  assert.ok(Math.abs(overall.restMassOfCleanMix! - (1 - p[0])) < 1e-6);
  // the rest on x~ is the clean rest exactly
  assert.ok(Math.abs(overall.restKl!) < 1e-9);
  assert.ok(Math.abs(overall.restCorrelation! - 1) < 1e-9);
});

test('a teacher answer of the wrong size is named', async () => {
  await assert.rejects(
    analyseVicinal({
      student: tinyModel(1),
      teacher: async () => ({ mixed: new Float32Array(5), clean: new Float32Array(5) }),
      images: split(),
      spec: SPEC,
      pairs: 8,
      batchSize: 4,
    }),
    /teacher mixed logits: expected 12 values \(\[4, 3\]\), got 5 values/,
  );
  await assert.rejects(
    analyseVicinal({
      student: tinyModel(1),
      teacher: inProcess(tinyModel(1), { lambdas: [] }),
      images: split(),
      spec: SPEC,
      batchSize: 1,
    }),
    /batchSize: expected an integer >= 2, got 1/,
  );
});
