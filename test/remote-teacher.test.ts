import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { initBackend } from '@vicinal/backend';
import { seededRandom } from '@vicinal/data';
import { startTeacherServer, type TeacherServer } from '@vicinal/teacher-server';
import { createLogger } from '@vicinal/telemetry';
import { type MixedBatchQuery, RemoteTeacher } from '@vicinal/training';
import { TeacherCallError } from '@vicinal/wire';
import {
  answerWithin,
  mixedLogits,
  pixels,
  SMALL,
  smallMetadata,
  smallModel,
  until,
} from './support/tfjs-teacher.js';

await initBackend('cpu');
const log = createLogger(
  'remote-teacher-test',
  process.env.VICINAL_LOG_LEVEL ?? 'silent',
);
const model = smallModel();

function query(seed: number, rows: number): MixedBatchQuery {
  const random = seededRandom(seed);
  const partner = Int32Array.from({ length: rows }, (_, i) => (i + 1) % rows);
  const lambda = Float32Array.from({ length: rows }, () => random());
  return {
    images: pixels(random, rows),
    shape: [rows, SMALL.h, SMALL.w, SMALL.c],
    partner,
    lambda,
  };
}

function assertLogits(got: Float32Array, q: MixedBatchQuery, what: string) {
  const want = mixedLogits(model, q.images, q.partner, q.lambda);
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < got.length; i++) {
    assert.ok(Math.abs(got[i] - want[i]) <= 1e-5, `${what}: element ${i}`);
  }
}

const serve = (address: string) =>
  startTeacherServer({
    address,
    model,
    metadata: smallMetadata(),
    maxBatch: 64,
    maxDelayMs: 1,
    logger: log,
  });

let server: TeacherServer;
before(async () => {
  server = await serve('127.0.0.1:0');
});
after(async () => {
  await server.stop(1000);
  model.dispose();
});

test('queries in flight share one stream and each gets its own answer', async () => {
  const teacher = await RemoteTeacher.connect(server.address, 'small-teacher');
  try {
    const queries = [query(1, 3), query(2, 5), query(3, 4)];
    const answers = await Promise.all(queries.map((q) => teacher.softLabels(q)));
    for (const [i, a] of answers.entries()) assertLogits(a, queries[i], `query ${i}`);
    assert.equal(server.stats().openStreams, 1);
    const both = await teacher.softLabelsWithConstituents(queries[0]);
    assertLogits(both.mixed, queries[0], 'mixed');
    assert.equal(both.clean.length, 3 * SMALL.k);
  } finally {
    await teacher.close();
  }
  await until(() => server.stats().openStreams === 0, 'the stream to close');
});

test('a refused query fails alone; the stream keeps serving', async () => {
  const teacher = await RemoteTeacher.connect(server.address, 'small-teacher');
  try {
    const bad = query(4, 2);
    bad.lambda[1] = 1.5;
    await assert.rejects(
      teacher.softLabels(bad),
      (err: unknown) =>
        err instanceof TeacherCallError &&
        err.code === 3 &&
        /mix\.lambda/.test(err.message),
    );
    const q = query(5, 2);
    assertLogits(await teacher.softLabels(q), q, 'after a refusal');
    assert.equal(server.stats().openStreams, 1);
  } finally {
    await teacher.close();
  }
});

test('after the stream ends with its server, the next query opens a new one', async () => {
  const first = await serve('127.0.0.1:0');
  const teacher = await RemoteTeacher.connect(first.address, 'small-teacher');
  let again: TeacherServer | null = null;
  try {
    const q = query(6, 3);
    assertLogits(await teacher.softLabels(q), q, 'first server');
    await first.stop(0);
    await assert.rejects(teacher.softLabels(q), TeacherCallError);
    // A server again at the same address: the channel reconnects and a new
    // stream carries the next query (tries bounded, not timed).
    again = await serve(first.address);
    const answer = await answerWithin(() => teacher.softLabels(q));
    assert.ok(answer, 'the new server answered within 50 tries');
    assertLogits(answer, q, 'second server');
    assert.equal(again.stats().openStreams, 1);
  } finally {
    await teacher.close();
    await again?.stop(1000);
  }
});

test('a query after close() is refused at once with CANCELLED', async () => {
  const teacher = await RemoteTeacher.connect(server.address, 'small-teacher');
  await teacher.close();
  await assert.rejects(
    teacher.softLabels(query(7, 2)),
    (err: unknown) =>
      err instanceof TeacherCallError && err.code === 1 && /was closed/.test(err.message),
  );
});
