import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { ImageSplit } from '@vicinal/data';
import { buildModel } from '@vicinal/models';
import {
  decodeCheckpoint,
  encodeCheckpoint,
  type TrainingCheckpoint,
  trainNetwork,
} from './index.js';
import { fashionMnistSubset } from './test-fixture.js';
import type { TrainOptions } from './train.js';

let train: ImageSplit;
let spec: TrainOptions['spec'];
const recipe = {
  architecture: 'student-cnn',
  epochs: 3,
  batchSize: 32,
  learningRate: 0.002,
  trainImages: 128,
};

before(async () => {
  ({ train, spec } = await fashionMnistSubset(128, 4));
});

function run(
  resumeFrom: TrainingCheckpoint | null,
  stopAfterEpoch?: number,
  batchSize = recipe.batchSize,
) {
  const model = buildModel('student-cnn', {
    inputShape: spec.shape,
    numClasses: 10,
    seed: 9,
  });
  const checkpoints: Uint8Array[] = [];
  const stop = new AbortController();
  const done = trainNetwork({
    model,
    train,
    spec,
    recipe: { ...recipe, batchSize },
    mixup: { alpha: 1, p: 1 },
    loss: { beta: 0.8, temperature: 2, variant: 'plain' },
    teacher: null,
    seed: 11,
    resumeFrom,
    signal: stop.signal,
    onCheckpoint: async (cp) => {
      checkpoints.push(encodeCheckpoint(cp));
      if (cp.epoch === stopAfterEpoch) stop.abort(new Error('simulated crash'));
    },
  });
  return { model, checkpoints, done };
}

test('a run resumed from a checkpoint ends with exactly the weights of an unbroken run', async () => {
  const unbroken = run(null);
  const full = await unbroken.done;
  assert.equal(full.steps, 12);
  assert.equal(unbroken.checkpoints.length, 2); // after epochs 1 and 2, not the last

  const crashed = run(null, 1);
  await assert.rejects(crashed.done, /simulated crash/);
  assert.equal(crashed.checkpoints.length, 1);
  const checkpoint = decodeCheckpoint(crashed.checkpoints[0]);
  assert.equal(checkpoint.epoch, 1);
  assert.equal(checkpoint.steps, 4);

  const resumed = run(checkpoint);
  const summary = await resumed.done;
  assert.equal(summary.steps, 12, 'no step skipped or repeated');
  assert.equal(summary.samples, 12 * 32);
  const a = unbroken.model.getWeights();
  const b = resumed.model.getWeights();
  assert.equal(a.length, b.length);
  let maxDiff = 0;
  a.forEach((w, i) => {
    const x = w.dataSync();
    const y = b[i].dataSync();
    for (let k = 0; k < x.length; k++) maxDiff = Math.max(maxDiff, Math.abs(x[k] - y[k]));
  });
  // Same ops on the same inputs in the same order: bit-identical on one backend.
  assert.equal(maxDiff, 0);
});

test('a truncated or foreign checkpoint is refused with a clear error', async () => {
  const { checkpoints, done } = run(null, 1);
  await assert.rejects(done);
  const bytes = checkpoints[0];
  assert.throws(
    () => decodeCheckpoint(bytes.subarray(0, bytes.length - 3)),
    /expected \d+ bytes/,
  );
  assert.throws(
    () => decodeCheckpoint(new TextEncoder().encode('hello')),
    /checkpoint: expected magic "[^"]+", found "hello"/,
  );
  // Binary garbage is shown in hex, not printed raw.
  assert.throws(
    () => decodeCheckpoint(Uint8Array.from([0x45, 0xf3, 0x4c, 0x9a, 0, 0, 0, 0])),
    /checkpoint: expected magic "[^"]+", found bytes 45 f3 4c 9a 00 \(hex\)/,
  );
});

test('Adam resumes with the bias-correction powers it had, not recomputed ones', async () => {
  // tf's Adam keeps beta1^t and beta2^t as running float32 products; its
  // setWeights recomputes them with pow, which differs in the last bits
  // after a few steps (beta2 = 0.999: after 2), and the weights then drift
  // apart. Batches of 4: 32 steps before the checkpoint.
  const unbroken = run(null, undefined, 4);
  const full = await unbroken.done;
  assert.equal(full.steps, 96);
  const crashed = run(null, 1, 4);
  await assert.rejects(crashed.done, /simulated crash/);
  const checkpoint = decodeCheckpoint(crashed.checkpoints[0]);
  assert.equal(checkpoint.steps, 32);
  assert.equal(checkpoint.adamBetaPowers?.length, 2, 'the powers are stored');
  const resumed = run(checkpoint, undefined, 4);
  await resumed.done;
  const a = unbroken.model.getWeights();
  const b = resumed.model.getWeights();
  let differing = 0;
  a.forEach((w, i) => {
    const x = w.dataSync();
    const y = b[i].dataSync();
    for (let k = 0; k < x.length; k++) if (x[k] !== y[k]) differing++;
  });
  assert.equal(differing, 0, `${differing} weights differ from the unbroken run`);
});
