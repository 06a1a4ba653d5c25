import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '@vicinal/backend';
import { seededRandom } from '@vicinal/data';
import { createRandom, sampleMixing } from '@vicinal/distillation';
import { startTeacherServer, type TeacherServer } from '@vicinal/teacher-server';
import { createLogger } from '@vicinal/telemetry';
import { InProcessTeacher, RemoteTeacher } from '@vicinal/training';
import { buildBenchModel, FASHION_MNIST, fashionMnistModel } from './models.js';

// The in-process teacher must give what a teacher server answers to the
// same "mix on the teacher" request, or the bench compares different work.

const B = 16;
let model: tfl.LayersModel;
let server: TeacherServer;
let remote: RemoteTeacher;

before(async () => {
  await initBackend('wasm');
  model = buildBenchModel(fashionMnistModel('teacher-cnn', 21));
  server = await startTeacherServer({
    address: '127.0.0.1:0',
    model,
    metadata: {
      model: 'tc',
      version: 'test',
      architecture: 'teacher-cnn',
      parameters: 0,
      inputShape: FASHION_MNIST.shape,
      numClasses: FASHION_MNIST.numClasses,
      classNames: [],
      mean: FASHION_MNIST.mean,
      std: FASHION_MNIST.std,
      dataset: 'test',
      backend: 'wasm',
    },
    maxBatch: 64,
    logger: createLogger('bench-test', 'silent'),
  });
  remote = await RemoteTeacher.connect(server.address, 'tc');
});

after(async () => {
  await remote?.close();
  await server?.stop(1000);
});

function batch(seed: number) {
  const random = seededRandom(seed);
  const images = Uint8Array.from({ length: B * 784 }, () => Math.floor(random() * 256));
  const { partner, lambda } = sampleMixing(createRandom(seed), B, { alpha: 1, p: 1 });
  return {
    images,
    shape: [B, 28, 28, 1] as [number, number, number, number],
    partner,
    lambda,
  };
}

test('the in-process teacher answers what the teacher server answers', async () => {
  const local = new InProcessTeacher(model, {
    mean: FASHION_MNIST.mean,
    std: FASHION_MNIST.std,
  });
  for (const seed of [1, 2]) {
    const query = batch(seed);
    const [mine, theirs] = [
      await local.softLabels(query),
      await remote.softLabels(query),
    ];
    assert.equal(mine.length, B * FASHION_MNIST.numClasses);
    assert.equal(theirs.length, mine.length);
    let worst = 0;
    for (let i = 0; i < mine.length; i++)
      worst = Math.max(worst, Math.abs(mine[i] - theirs[i]));
    assert.ok(worst <= 1e-5, `largest difference ${worst}`);
  }
  await local.close();
});

test('both teachers see the mixing: other lambdas give other logits', async () => {
  const local = new InProcessTeacher(model, {
    mean: FASHION_MNIST.mean,
    std: FASHION_MNIST.std,
  });
  const query = batch(3);
  const flipped = { ...query, lambda: query.lambda.map((l) => 1 - l) };
  const a = await remote.softLabels(query);
  const b = await remote.softLabels(flipped);
  const c = await local.softLabels(flipped);
  assert.ok(a.some((v, i) => Math.abs(v - b[i]) > 1e-3));
  assert.ok(b.every((v, i) => Math.abs(v - c[i]) <= 1e-5));
  await local.close();
});
