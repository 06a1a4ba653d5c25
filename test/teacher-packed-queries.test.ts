/**
 * Several batches in one request: RemoteTeacher.softLabelsMany packs whole
 * batches up to what the teacher server's Describe says one request may
 * hold (max_batch, queue_limit), over real gRPC on loopback, and every batch
 * gets the logits it would get alone.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { initBackend } from '@vicinal/backend';
import { seededRandom, splitFingerprint } from '@vicinal/data';
import {
  type HeldSplit,
  startTeacherServer,
  type TeacherServer,
} from '@vicinal/teacher-server';
import { createLogger } from '@vicinal/telemetry';
import { type MixedBatchQuery, RemoteTeacher } from '@vicinal/training';
import { TeacherCallError, TeacherClient } from '@vicinal/wire';
import {
  mixedLogits,
  pixels,
  SMALL,
  SMALL_PIXELS,
  smallMetadata,
  smallModel,
} from './support/tfjs-teacher.js';

await initBackend('cpu');
const log = createLogger(
  'packed-queries-test',
  process.env.VICINAL_LOG_LEVEL ?? 'silent',
);
const model = smallModel();
const COUNT = 64;
const images = pixels(seededRandom(11), COUNT);
const held: HeldSplit = {
  name: 'synthetic/train',
  fingerprint: splitFingerprint(images, [SMALL.h, SMALL.w, SMALL.c]),
  images,
  rows: COUNT,
};

/** `n` batches of `b` rows of the held split, each mixed within itself. */
function batches(n: number, b: number, seed: number): MixedBatchQuery[] {
  const random = seededRandom(seed);
  return Array.from({ length: n }, () => {
    const rows = Uint32Array.from({ length: b }, () => Math.floor(random() * COUNT));
    const batch = new Uint8Array(b * SMALL_PIXELS);
    rows.forEach((r, i) => {
      batch.set(
        images.subarray(r * SMALL_PIXELS, (r + 1) * SMALL_PIXELS),
        i * SMALL_PIXELS,
      );
    });
    return {
      images: batch,
      shape: [b, SMALL.h, SMALL.w, SMALL.c],
      partner: Int32Array.from({ length: b }, (_, i) => (i + 1 + (i % 3)) % b),
      lambda: Float32Array.from({ length: b }, () => random()),
      rows: { dataset: held.fingerprint, rows },
    };
  });
}

function assertAnswers(got: Float32Array[], queries: MixedBatchQuery[]) {
  assert.equal(got.length, queries.length, 'one answer per batch');
  got.forEach((logits, q) => {
    const want = mixedLogits(
      model,
      queries[q].images,
      queries[q].partner,
      queries[q].lambda,
    );
    assert.equal(logits.length, want.length, `batch ${q}: length`);
    for (let i = 0; i < want.length; i++) {
      assert.ok(
        Math.abs(logits[i] - want[i]) <= 1e-5,
        `batch ${q}, element ${i}: ${logits[i]} vs ${want[i]}`,
      );
    }
  });
}

const serve = (options: {
  maxBatch: number;
  queueLimit?: number;
  maxMessageBytes?: number;
  hold: boolean;
}) =>
  startTeacherServer({
    address: '127.0.0.1:0',
    model,
    metadata: smallMetadata(),
    maxBatch: options.maxBatch,
    queueLimit: options.queueLimit,
    maxMessageBytes: options.maxMessageBytes,
    maxDelayMs: 1,
    heldData: options.hold ? [held] : [],
    logger: log,
  });

/** `q` as a raw RowsSpec request, for what the server itself answers. */
const rowsRequest = (q: MixedBatchQuery, returnConstituents = false) => ({
  rows: {
    dataset: held.fingerprint,
    rows: q.rows?.rows ?? new Uint32Array(0),
    partner: q.partner,
    lambda: q.lambda,
    returnConstituents,
  },
});

/** An INVALID_ARGUMENT whose message matches `pattern`. */
const invalid = (pattern: RegExp) => (err: unknown) =>
  err instanceof TeacherCallError &&
  err.code === grpc.status.INVALID_ARGUMENT &&
  pattern.test(err.message);

const requests = (server: TeacherServer) => {
  const a = server.stats().answered;
  return a.images + a.mix + a.rows;
};

describe('RemoteTeacher.softLabelsMany', () => {
  let holding: TeacherServer;
  let plain: TeacherServer;
  let narrowQueue: TeacherServer;
  before(async () => {
    holding = await serve({ maxBatch: 16, hold: true });
    plain = await serve({ maxBatch: 16, hold: false });
    narrowQueue = await serve({ maxBatch: 16, queueLimit: 8, hold: true });
  });
  after(async () => {
    await Promise.all([holding.stop(1000), plain.stop(1000), narrowQueue.stop(1000)]);
  });

  test('packs whole batches up to the max batch, as row numbers or as images', async () => {
    for (const [server, form] of [
      [holding, 'rows'],
      [plain, 'mix'],
    ] as const) {
      const teacher = await RemoteTeacher.connect(server.address, 'small-teacher');
      try {
        const queries = batches(6, 4, 1);
        const before = server.stats().answered[form];
        // 6 batches of 4 rows, at most 16 rows a request: 4 + 2 batches.
        assertAnswers(await teacher.softLabelsMany(queries), queries);
        assert.equal(server.stats().answered[form], before + 2, form);
        // Each batch alone gets the same logits, one request each.
        for (const q of queries.slice(0, 2))
          assertAnswers([await teacher.softLabels(q)], [q]);
        assert.equal(server.stats().answered[form], before + 4, form);
      } finally {
        await teacher.close();
      }
    }
  });

  test("packs no more rows than the server's queue may hold, which Describe reports", async () => {
    const client = await TeacherClient.connect(narrowQueue.address);
    try {
      const d = await client.describe('small-teacher');
      assert.equal(d.queueLimit, 8);
      assert.equal(d.maxBatch, 16);
    } finally {
      client.close();
    }
    const teacher = await RemoteTeacher.connect(narrowQueue.address, 'small-teacher');
    try {
      const queries = batches(5, 4, 2);
      const before = requests(narrowQueue);
      assertAnswers(await teacher.softLabelsMany(queries), queries);
      // 8 rows a request: 2 + 2 + 1 batches, one request after another (sent
      // together, the second would find the queue full).
      assert.equal(requests(narrowQueue) - before, 3);
    } finally {
      await teacher.close();
    }
  });

  test('a batch larger than a request may hold is asked in parts that stand alone', async () => {
    const teacher = await RemoteTeacher.connect(holding.address, 'small-teacher');
    try {
      // 20 rows against a max batch of 16: parts of 8 rows and their outside
      // partners; every row is mixed as in the whole batch.
      const [big] = batches(1, 20, 3);
      const small = batches(2, 4, 4);
      const before = requests(holding);
      assertAnswers(await teacher.softLabelsMany([small[0], big, small[1]]), [
        small[0],
        big,
        small[1],
      ]);
      // One request for the first small batch, three parts, one for the last.
      assert.equal(requests(holding) - before, 5);
    } finally {
      await teacher.close();
    }
    // The server itself still refuses such a request, naming the limit.
    const client = await TeacherClient.connect(holding.address);
    try {
      const [big] = batches(1, 20, 3);
      await assert.rejects(
        client.softLabels(rowsRequest(big)),
        invalid(/rows\.rows: expected 1 to 16 row numbers, got 20/),
      );
    } finally {
      client.close();
    }
  });

  test('a batch over the queue limit: refused at once by the server, asked in parts by a student', async () => {
    // 12 rows: within the max batch of 16, above the queue limit of 8. The
    // queue could never take it, so the server answers INVALID_ARGUMENT (a
    // failover gives up at once), not RESOURCE_EXHAUSTED (retried until its
    // deadline).
    const [big] = batches(1, 12, 5);
    const client = await TeacherClient.connect(narrowQueue.address);
    try {
      await assert.rejects(
        client.softLabels(rowsRequest(big)),
        invalid(/rows\.rows: expected 1 to 8 row numbers, got 12/),
      );
      // With the constituents, mixed and clean images both wait: 8 rows at most.
      const [six] = batches(1, 6, 6);
      await assert.rejects(
        client.softLabels(rowsRequest(six, true)),
        invalid(
          /rows\.return_constituents: expected at most 4 rows with their constituents/,
        ),
      );
    } finally {
      client.close();
    }
    const teacher = await RemoteTeacher.connect(narrowQueue.address, 'small-teacher');
    try {
      assertAnswers([await teacher.softLabels(big)], [big]);
      // The analysis's query, with its clean images' logits, in parts of 2 rows.
      const both = await teacher.softLabelsWithConstituents(big);
      assertAnswers([both.mixed], [big]);
      const clean = mixedLogits(
        model,
        big.images,
        Int32Array.from({ length: 12 }, (_, i) => i),
        new Float32Array(12).fill(1),
      );
      assert.equal(both.clean.length, clean.length);
      both.clean.forEach((v, i) => {
        assert.ok(
          Math.abs(v - clean[i]) <= 1e-5,
          `clean element ${i}: ${v} vs ${clean[i]}`,
        );
      });
    } finally {
      await teacher.close();
    }
  });

  test('the max message size bounds packs and parts, in the form the rows go in', async () => {
    for (const hold of [false, true]) {
      const small = await serve({ maxBatch: 512, maxMessageBytes: 1024, hold });
      const teacher = await RemoteTeacher.connect(small.address, 'small-teacher');
      try {
        // 60 rows: 64 bytes of pixels and some 9 more each as images, 14 as
        // row numbers, against 1024 bytes. gRPC itself would refuse the
        // whole request with RESOURCE_EXHAUSTED, which a failover retries.
        const [big] = batches(1, 60, 7);
        assertAnswers([await teacher.softLabels(big)], [big]);
        const a = small.stats().answered;
        const form = hold ? a.rows : a.mix;
        // Images: 7 rows a request, parts of 3 rows and their partners; rows:
        // 36 a request, parts of 18.
        assert.equal(form, hold ? 4 : 20, `requests as ${hold ? 'rows' : 'images'}`);
        // Packs by the same bound: six batches of 3 rows go 2 to a request as
        // images (6 of 7 rows), all 6 in one as row numbers (18 of 36).
        const six = batches(6, 3, 8);
        assertAnswers(await teacher.softLabelsMany(six), six);
        const b = small.stats().answered;
        const more = (hold ? b.rows : b.mix) - form;
        assert.equal(more, hold ? 1 : 3, `packs as ${hold ? 'rows' : 'images'}`);
      } finally {
        await teacher.close();
        await small.stop(1000);
      }
    }
  });
});
