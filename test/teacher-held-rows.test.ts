/**
 * "Rows the teacher holds": a teacher server that holds a data set split
 * answers queries naming its rows exactly as it answers the same images sent
 * as pixels; RemoteTeacher names rows only when the server says it holds
 * them, and sends pixels again when the server stops holding them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '@vicinal/backend';
import { type ImageSplit, seededRandom, splitFingerprint, subset } from '@vicinal/data';
import {
  type HeldSplit,
  startTeacherServer,
  type TeacherServer,
} from '@vicinal/teacher-server';
import { createLogger } from '@vicinal/telemetry';
import {
  analyseVicinal,
  type MixedBatchQuery,
  RemoteTeacher,
  type TeacherSource,
  trainNetwork,
} from '@vicinal/training';
import {
  type RowsInput,
  TeacherCallError,
  TeacherClient,
  WireError,
} from '@vicinal/wire';
import {
  answerWithin,
  mixedLogits,
  pixels,
  SMALL,
  SMALL_PIXELS,
  smallMetadata,
  smallModel,
} from './support/tfjs-teacher.js';

await initBackend('cpu');
const log = createLogger('held-rows-test', process.env.VICINAL_LOG_LEVEL ?? 'silent');
const model = smallModel();
const SHAPE = [SMALL.h, SMALL.w, SMALL.c] as const;
const COUNT = 40;

/** A fingerprinted split of COUNT seeded images, as loadDataset gives one. */
function heldSplit(seed: number): ImageSplit {
  const random = seededRandom(seed);
  const images = pixels(random, COUNT);
  return {
    images,
    labels: Uint8Array.from({ length: COUNT }, (_, i) => i % SMALL.k),
    count: COUNT,
    fingerprint: splitFingerprint(images, SHAPE),
  };
}
const split = heldSplit(3);
const held: HeldSplit = {
  name: 'synthetic/train',
  fingerprint: split.fingerprint ?? '',
  images: split.images,
  rows: split.count,
};

/** Rows `rows` of the split as a query, images and row numbers both. */
function query(rows: number[], seed: number): MixedBatchQuery {
  const random = seededRandom(seed);
  const images = new Uint8Array(rows.length * SMALL_PIXELS);
  rows.forEach((r, i) => {
    images.set(
      split.images.subarray(r * SMALL_PIXELS, (r + 1) * SMALL_PIXELS),
      i * SMALL_PIXELS,
    );
  });
  return {
    images,
    shape: [rows.length, SMALL.h, SMALL.w, SMALL.c],
    partner: Int32Array.from(rows, (_, i) => (i + 2) % rows.length),
    lambda: Float32Array.from(rows, () => random()),
    rows: { dataset: held.fingerprint, rows: Uint32Array.from(rows) },
  };
}

function assertLogits(got: Float32Array, q: MixedBatchQuery, what: string) {
  const want = mixedLogits(model, q.images, q.partner, q.lambda);
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < got.length; i++) {
    assert.ok(Math.abs(got[i] - want[i]) <= 1e-5, `${what}: element ${i}`);
  }
}

const serve = (address: string, heldData: HeldSplit[]) =>
  startTeacherServer({
    address,
    model,
    metadata: smallMetadata(),
    maxBatch: 16,
    maxDelayMs: 1,
    heldData,
    logger: log,
  });

describe('a teacher server holding a split', () => {
  let server: TeacherServer;
  let client: TeacherClient;
  before(async () => {
    server = await serve('127.0.0.1:0', [held]);
    client = await TeacherClient.connect(server.address);
  });
  after(async () => {
    client.close();
    await server.stop(1000);
  });

  test('Describe lists it, and its rows answer as their pixels do, constituents too', async () => {
    const d = await client.describe();
    assert.deepEqual(d.heldDatasets, [
      { name: 'synthetic/train', fingerprint: held.fingerprint, rows: COUNT },
    ]);
    const q = query([7, 0, 39, 12, 12, 3], 1);
    const spec = { partner: q.partner, lambda: q.lambda, returnConstituents: true };
    const [byRows, byPixels] = await Promise.all([
      client.softLabels({
        rows: { dataset: held.fingerprint, rows: q.rows!.rows, ...spec },
      }),
      client.softLabels({ mix: { images: q.images, shape: q.shape, ...spec } }),
    ]);
    assertLogits(byRows.logits, q, 'rows');
    assert.deepEqual(Array.from(byRows.logits), Array.from(byPixels.logits));
    assert.ok(byRows.constituentLogits && byPixels.constituentLogits);
    assert.deepEqual(
      Array.from(byRows.constituentLogits),
      Array.from(byPixels.constituentLogits),
    );
  });

  test('bad rows requests are refused naming the field; the server keeps serving', async () => {
    const good = query([1, 2, 3], 2);
    const base = {
      dataset: held.fingerprint,
      rows: [1, 2, 3],
      partner: [1, 2, 0],
      lambda: [0.5, 0.5, 0.5],
    };
    const cases: [string, object, number, string, RegExp][] = [
      [
        'unknown data set',
        { ...base, dataset: 'sha256:00' },
        grpc.status.FAILED_PRECONDITION,
        'rows.dataset',
        /expected a data set this server holds \(sha256:[0-9a-f]{64} \(synthetic\/train\)\), got "sha256:00"/,
      ],
      [
        'row past the end',
        { ...base, rows: [1, COUNT, 3] },
        grpc.status.INVALID_ARGUMENT,
        'rows.rows',
        /expected row numbers < 40 \(the rows of synthetic\/train\), got 40 at row 1/,
      ],
      [
        'no rows',
        { ...base, rows: [], partner: [], lambda: [] },
        grpc.status.INVALID_ARGUMENT,
        'rows.rows',
        /expected 1 to 16 row numbers, got 0/,
      ],
      [
        'more rows than a batch',
        {
          rows: Array.from({ length: 17 }, () => 1),
          partner: Array.from({ length: 17 }, () => 0),
          lambda: Array.from({ length: 17 }, () => 1),
          dataset: held.fingerprint,
        },
        grpc.status.INVALID_ARGUMENT,
        'rows.rows',
        /expected 1 to 16 row numbers, got 17/,
      ],
      [
        'partner out of range',
        { ...base, partner: [1, 3, 0] },
        grpc.status.INVALID_ARGUMENT,
        'rows.partner',
        /expected row indices < 3, got 3 at row 1/,
      ],
      [
        'lambda count',
        { ...base, lambda: [0.5] },
        grpc.status.INVALID_ARGUMENT,
        'rows.lambda',
        /expected 3 values \(one per row of rows.rows\), got 1/,
      ],
    ];
    // One stream for all: each refusal fails its request alone.
    const stream = client.stream();
    for (const [name, rows, code, field, pattern] of cases) {
      const err = await stream.softLabels({ rows: rows as RowsInput }).then(
        () => null,
        (e: unknown) => e,
      );
      if (name === 'lambda count') {
        // The client refuses it before sending, naming the same field.
        assert.ok(err instanceof WireError, `${name}: ${err}`);
        assert.equal(err.field, field, name);
        continue;
      }
      assert.ok(err instanceof TeacherCallError, `${name}: ${err}`);
      assert.equal(err.code, code, `${name}: ${err.message}`);
      assert.equal(err.field, field, name);
      assert.match(err.message, pattern, name);
    }
    await stream.close();
    const after = await client.softLabels({
      rows: {
        dataset: held.fingerprint,
        rows: good.rows!.rows,
        partner: good.partner,
        lambda: good.lambda,
      },
    });
    assertLogits(after.logits, good, 'after the refusals');
  });
});

test('a held split that is not of the model input shape stops the start', async () => {
  await assert.rejects(
    serve('127.0.0.1:0', [{ ...held, images: held.images.subarray(1) }]),
    /heldData "synthetic\/train": expected 40 images of 64 pixels \(the model's input shape\), got 2559 bytes/,
  );
});

describe('RemoteTeacher and held rows', () => {
  let holding: TeacherServer;
  let plain: TeacherServer;
  before(async () => {
    holding = await serve('127.0.0.1:0', [held]);
    plain = await serve('127.0.0.1:0', []);
  });
  after(async () => {
    await holding.stop(1000);
    await plain.stop(1000);
  });

  test('names rows to a server holding their split, sends pixels otherwise', async () => {
    const onHolding = await RemoteTeacher.connect(holding.address, 'small-teacher');
    const pixelsOnly = await RemoteTeacher.connect(holding.address, 'small-teacher', {
      sendRows: false,
    });
    const plainForms: string[] = [];
    const onPlain = await RemoteTeacher.connect(plain.address, 'small-teacher', {
      onForm: (form, why) => plainForms.push(`${form}: ${why}`),
    });
    try {
      const q = query([5, 9, 1, 30], 3);
      const before = { ...holding.stats().answered };
      assertLogits(await onHolding.softLabels(q), q, 'rows');
      const both = await onHolding.softLabelsWithConstituents(q);
      assertLogits(both.mixed, q, 'rows with constituents');
      assert.equal(holding.stats().answered.rows, before.rows + 2);
      assert.equal(holding.stats().answered.mix, before.mix);
      // Rows of a split the server does not hold, and queries without rows: pixels.
      const other = { ...q, rows: { dataset: 'sha256:other', rows: q.rows!.rows } };
      assertLogits(await onHolding.softLabels(other), q, 'another split');
      assertLogits(await onHolding.softLabels({ ...q, rows: undefined }), q, 'no rows');
      assertLogits(await pixelsOnly.softLabels(q), q, 'sendRows: false');
      assert.equal(holding.stats().answered.rows, before.rows + 2);
      assert.equal(holding.stats().answered.mix, before.mix + 3);
      assertLogits(await onPlain.softLabels(q), q, 'server holding nothing');
      assert.deepEqual(plain.stats().answered, { images: 0, mix: 1, rows: 0 });
      assert.deepEqual(plainForms, [
        'images: the teacher does not hold the training split',
      ]);
    } finally {
      await Promise.all([onHolding.close(), pixelsOnly.close(), onPlain.close()]);
    }
  });

  test('a server that no longer holds the split gets pixels, that query included', async () => {
    const first = await serve('127.0.0.1:0', [held]);
    const forms: string[] = [];
    const teacher = await RemoteTeacher.connect(first.address, 'small-teacher', {
      onForm: (form, why) => forms.push(`${form}: ${why}`),
    });
    let again: TeacherServer | null = null;
    try {
      const q = query([2, 4, 6], 4);
      assertLogits(await teacher.softLabels(q), q, 'first server');
      assert.equal(first.stats().answered.rows, 1);
      await first.stop(0);
      // The same address, now holding nothing (tries bounded, not timed).
      again = await serve(first.address, []);
      const answer = await answerWithin(() => teacher.softLabels(q));
      assert.ok(answer, 'the new server answered within 50 tries');
      assertLogits(answer, q, 'second server');
      assertLogits(await teacher.softLabels(q), q, 'second server, again');
      // One refused rows request, then pixels only; each change was told once.
      assert.equal(again.stats().answered.rows, 0);
      assert.equal(again.stats().answered.mix, 2);
      assert.deepEqual(forms.slice(0, 1), [
        `rows: the teacher holds the training split ${held.fingerprint}`,
      ]);
      assert.equal(
        forms.at(-1),
        'images: the teacher no longer holds the training split',
      );
      assert.ok(forms.length <= 3, forms.join('\n'));
    } finally {
      await teacher.close();
      await again?.stop(1000);
    }
  });

  test('training on a subset of the held split sends row numbers only, and trains as with pixels', async () => {
    const train = subset(split, 32, 5);
    const runs: { loss: number; answered: TeacherServer['stats'] }[] = [];
    for (const sendRows of [true, false]) {
      const server = await serve('127.0.0.1:0', [held]);
      const teacher: TeacherSource = await RemoteTeacher.connect(
        server.address,
        'small-teacher',
        { sendRows },
      );
      const student = tfl.sequential({
        layers: [
          tfl.layers.flatten({ inputShape: [...SHAPE] }),
          tfl.layers.dense({
            units: SMALL.k,
            kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }),
          }),
        ],
      });
      try {
        const summary = await trainNetwork({
          model: student,
          train,
          spec: {
            shape: [...SHAPE],
            numClasses: SMALL.k,
            mean: [SMALL.mean],
            std: [SMALL.std],
          },
          recipe: {
            architecture: 'student-cnn',
            epochs: 2,
            batchSize: 8,
            learningRate: 0.01,
            trainImages: train.count,
          },
          mixup: { alpha: 1, p: 1 },
          loss: { beta: 0.7, temperature: 2, variant: 'plain' },
          teacher,
          seed: 9,
          prefetch: 2,
        });
        assert.equal(summary.steps, 8);
        // Four steps' queries at a time (the default), packed two 8-row
        // batches to a request by the server's max batch of 16: 4 requests.
        const answered = server.stats().answered;
        assert.deepEqual(
          answered,
          sendRows ? { images: 0, mix: 0, rows: 4 } : { images: 0, mix: 4, rows: 0 },
        );
        runs.push({ loss: summary.finalLoss, answered: server.stats });
      } finally {
        await teacher.close();
        await server.stop(1000);
        student.dispose();
      }
    }
    // The same logits, so the same training.
    assert.ok(
      Math.abs(runs[0].loss - runs[1].loss) <= 1e-6,
      `${runs[0].loss} vs ${runs[1].loss}`,
    );
  });

  test('the vicinal analysis of a student trained on the held split names rows too', async () => {
    const server = await serve('127.0.0.1:0', [held]);
    const teacher = await RemoteTeacher.connect(server.address, 'small-teacher');
    const student = tfl.sequential({
      layers: [
        tfl.layers.flatten({ inputShape: [...SHAPE] }),
        tfl.layers.dense({ units: SMALL.k }),
      ],
    });
    try {
      const analysis = await analyseVicinal({
        student,
        teacher: (q) => teacher.softLabelsWithConstituents(q),
        images: subset(split, 24, 2),
        spec: {
          shape: [...SHAPE],
          numClasses: SMALL.k,
          mean: [SMALL.mean],
          std: [SMALL.std],
        },
        pairs: 20,
        batchSize: 8,
        seed: 1,
      });
      assert.ok(analysis);
      assert.deepEqual(server.stats().answered, { images: 0, mix: 0, rows: 3 });
    } finally {
      await teacher.close();
      await server.stop(1000);
      student.dispose();
    }
  });
});
