import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { DEFAULT_STEPS_PER_QUERY } from '@vicinal/config';
import type { ImageSplit } from '@vicinal/data';
import { buildModel } from '@vicinal/models';
import { type MixedBatchQuery, type TeacherSource, trainNetwork } from './index.js';
import { mergeQueries, splitLogits } from './query-pack.js';
import { fashionMnistSubset } from './test-fixture.js';
import type { TrainOptions } from './train.js';

let train: ImageSplit;
let spec: TrainOptions['spec'];

before(async () => {
  ({ train, spec } = await fashionMnistSubset(96, 5));
});

/** A teacher that counts its queries and answers each with `answer`. */
function countingTeacher(
  answer: (query: MixedBatchQuery) => Promise<Float32Array>,
): TeacherSource & { asked: number } {
  return {
    kind: 'in-process',
    address: 'test',
    model: 'test',
    asked: 0,
    softLabels(query: MixedBatchQuery) {
      this.asked++;
      return answer(query);
    },
    async close() {},
  };
}

/** A teacher that answers every query `delayMs` after it was asked. */
function slowTeacher(delayMs: number) {
  return countingTeacher(async (query) => {
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    return new Float32Array(query.lambda.length * 10).fill(0.1);
  });
}

function train3Steps(
  teacher: TeacherSource | null,
  prefetch: number,
  more: Partial<TrainOptions> & { epochs?: number } = {},
) {
  const { epochs = 1, ...rest } = more;
  return trainNetwork({
    model: buildModel('student-cnn', { inputShape: spec.shape, numClasses: 10, seed: 2 }),
    train,
    spec,
    recipe: {
      architecture: 'student-cnn',
      epochs,
      batchSize: 32,
      learningRate: 0.002,
      trainImages: 96,
    },
    mixup: { alpha: 1, p: 1 },
    loss: { beta: 0.8, temperature: 2, variant: 'plain' },
    teacher,
    seed: 3,
    prefetch,
    ...rest,
  });
}

test('the time training waited on the teacher is reported', async () => {
  const teacher = slowTeacher(200);
  // One query in flight: every step asks and then waits out nearly the whole
  // delay (all but one turn of the event loop; half of it is the bound).
  const summary = await train3Steps(teacher, 1);
  assert.equal(summary.steps, 3);
  assert.equal(teacher.asked, 3);
  assert.ok(
    summary.teacherWaitSeconds >= 3 * 0.1,
    `waited ${summary.teacherWaitSeconds} s, expected at least 3 x 100 ms`,
  );
  assert.ok(summary.teacherWaitSeconds <= summary.trainSeconds);
});

test('without a teacher nothing is waited for', async () => {
  const summary = await train3Steps(null, 2);
  assert.equal(summary.steps, 3);
  assert.equal(summary.teacherWaitSeconds, 0);
});

/** Answers at once with logits that depend only on the query's mixing. */
function echoTeacher() {
  return countingTeacher(async (query) => {
    const logits = new Float32Array(query.lambda.length * 10);
    for (let i = 0; i < logits.length; i++) {
      logits[i] = query.lambda[Math.floor(i / 10)] * ((i % 10) - 4.5);
    }
    return logits;
  });
}

test('the next epoch is queried while the last steps of one still train', async () => {
  const teacher = echoTeacher();
  const askedAtEpochEnd: number[] = [];
  const summary = await train3Steps(teacher, 2, {
    epochs: 2,
    onEpoch: () => {
      askedAtEpochEnd.push(teacher.asked);
    },
  });
  assert.equal(summary.steps, 6);
  assert.equal(teacher.asked, 6);
  // Two in flight: step 4 (epoch 2's first) was asked before step 3 trained.
  assert.deepEqual(askedAtEpochEnd, [4, 6]);
});

test('queries in flight change nothing that is trained', async () => {
  const losses: number[] = [];
  for (const prefetch of [1, 3]) {
    const summary = await train3Steps(echoTeacher(), prefetch, { epochs: 2 });
    losses.push(summary.finalLoss);
  }
  assert.ok(Number.isFinite(losses[0]));
  assert.equal(losses[1], losses[0]);
});

/**
 * Logits that depend on every row's own pixels, its partner's and its
 * lambda, so a row answered with the wrong partner or out of place changes
 * what is trained.
 */
function mixedPixelLogits(query: MixedBatchQuery): Float32Array {
  const [b, h, w, c] = query.shape;
  const pixels = h * w * c;
  const logits = new Float32Array(b * 10);
  for (let r = 0; r < b; r++) {
    const p = query.partner[r];
    const l = query.lambda[r];
    for (let k = 0; k < 10; k++) {
      const at = 300 + k * 37;
      logits[r * 10 + k] =
        (l * query.images[r * pixels + at] + (1 - l) * query.images[p * pixels + at]) /
        40;
    }
  }
  return logits;
}

/** A teacher that takes several batches as one merged query, as a remote one does. */
function packingTeacher() {
  const teacher = {
    kind: 'remote' as const,
    address: 'test',
    model: 'test',
    /** Batches per softLabelsMany call, in order. */
    calls: [] as number[],
    single: 0,
    async softLabels(query: MixedBatchQuery) {
      teacher.single++;
      return mixedPixelLogits(query);
    },
    async softLabelsMany(queries: readonly MixedBatchQuery[]) {
      teacher.calls.push(queries.length);
      return splitLogits(mixedPixelLogits(mergeQueries(queries)), queries);
    },
    async close() {},
  };
  return teacher;
}

test('steps per query: several steps are asked in one query, and train as one per step would', async () => {
  const teacher = packingTeacher();
  const grouped = await train3Steps(teacher, 2, { epochs: 3, stepsPerQuery: 2 });
  assert.equal(grouped.steps, 9);
  // Nine steps, two per query; the last step is left alone and asked as one batch.
  assert.deepEqual(teacher.calls, [2, 2, 2, 2]);
  assert.equal(teacher.single, 1);
  const perStep = packingTeacher();
  const one = await train3Steps(perStep, 2, { epochs: 3, stepsPerQuery: 1 });
  assert.equal(perStep.single, 9);
  assert.deepEqual(perStep.calls, []);
  // A source without softLabelsMany is asked once per step, whatever is set.
  const plain = countingTeacher(async (q) => mixedPixelLogits(q));
  const alone = await train3Steps(plain, 2, { epochs: 3, stepsPerQuery: 4 });
  assert.equal(plain.asked, 9);
  assert.ok(Number.isFinite(one.finalLoss));
  assert.equal(grouped.finalLoss, one.finalLoss);
  assert.equal(alone.finalLoss, one.finalLoss);
});

test("steps per query: the default groups a remote teacher's steps by DEFAULT_STEPS_PER_QUERY", async () => {
  const teacher = packingTeacher();
  await train3Steps(teacher, 2, { epochs: 3 });
  assert.equal(DEFAULT_STEPS_PER_QUERY, 4);
  assert.deepEqual(teacher.calls, [4, 4]);
  assert.equal(teacher.single, 1);
});

test('steps per query: a failed merged query fails the step that needs it', async () => {
  const teacher = packingTeacher();
  teacher.softLabelsMany = async () => {
    throw new Error('teacher gone');
  };
  await assert.rejects(train3Steps(teacher, 2, { epochs: 2 }), /teacher gone/);
});
