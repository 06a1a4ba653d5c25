import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { initBackend, tf } from '@vicinal/backend';
import { seededRandom } from '@vicinal/data';
import { startTeacherServer } from '@vicinal/teacher-server';
import { createLogger } from '@vicinal/telemetry';
import { FailoverTeacher, type MixedBatchQuery, RemoteTeacher } from '@vicinal/training';
import { TeacherCallError, TeacherClient } from '@vicinal/wire';
import {
  gatedInference,
  mixedLogits,
  pixels,
  SMALL,
  smallMetadata,
  smallModel,
  until,
} from './support/tfjs-teacher.js';

await initBackend('cpu');

const log = createLogger('teacher-load-test', process.env.VICINAL_LOG_LEVEL ?? 'silent');

/** Students of each kind, requests each sends, and the server's limits. */
const TRAINER_STUDENTS = 12;
const STREAM_STUDENTS = 12;
const REQUESTS = 16;
const STREAM_IN_FLIGHT = 2;
const MAX_BATCH = 16;
const QUEUE_LIMIT = 24;

interface Answer {
  query: MixedBatchQuery;
  logits: Float32Array;
}

/** A student's seeded queries: 2..8 rows each, partners a shuffled cycle. */
function queries(seed: number): MixedBatchQuery[] {
  const random = seededRandom(seed);
  return Array.from({ length: REQUESTS }, () => {
    const rows = 2 + Math.floor(random() * 7);
    const partner = Int32Array.from({ length: rows }, (_, i) => i);
    for (let i = rows - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [partner[i], partner[j]] = [partner[j], partner[i]];
    }
    return {
      images: pixels(random, rows),
      shape: [rows, SMALL.h, SMALL.w, SMALL.c],
      partner,
      lambda: Float32Array.from({ length: rows }, () => random()),
    };
  });
}

/** Seeded "equal jitter" backoff between 2 and 40 ms, doubling per attempt. */
function backoff(random: () => number, attempt: number): Promise<void> {
  const step = Math.min(40, 4 * 2 ** Math.min(attempt, 4));
  return new Promise((r) => setTimeout(r, step / 2 + (step / 2) * random()));
}

describe('many students on one teacher', () => {
  test(`${TRAINER_STUDENTS} trainers (a stream each, behind FailoverTeacher) and ${STREAM_STUDENTS} raw streams: back-pressure is retried, every answer is right, nothing leaks`, {
    timeout: 60_000,
  }, async (t) => {
    const model = smallModel();
    const gate = gatedInference(model);
    const server = await startTeacherServer({
      address: '127.0.0.1:0',
      model: gate.infer,
      metadata: smallMetadata(),
      maxBatch: MAX_BATCH,
      maxDelayMs: 1,
      queueLimit: QUEUE_LIMIT,
      logger: log,
    });
    const trainers: FailoverTeacher[] = [];
    const streaming: TeacherClient[] = [];
    try {
      // Warm up model and connections, then count the server's tensors.
      gate.openAll();
      const warm = queries(999)[0];
      const warmClient = await TeacherClient.connect(server.address);
      await warmClient.softLabels({ mix: warm });
      warmClient.close();
      const tensorsBefore = tf.memory().numTensors;

      for (let i = 0; i < TRAINER_STUDENTS; i++) {
        trainers.push(
          await FailoverTeacher.open({
            model: 'small-teacher',
            resolve: async () => server.address,
            connect: (address) => RemoteTeacher.connect(address, 'small-teacher'),
            initialBackoffMs: 4,
            maxBackoffMs: 40,
            deadlineMs: 30_000,
            jitterSeed: 100 + i,
            log,
          }),
        );
      }
      for (let i = 0; i < STREAM_STUDENTS; i++) {
        streaming.push(await TeacherClient.connect(server.address));
      }

      // Hold the first batch inside the model until the queue overflows,
      // so back-pressure happens whatever the machine's speed.
      gate.hold();
      const answers: Answer[] = [];
      const latencyMs: number[] = [];
      let streamRetries = 0;
      const started = performance.now();
      const trainerRuns = trainers.map(async (teacher, i) => {
        for (const query of queries(i)) {
          const sent = performance.now();
          const logits = await teacher.softLabels(query);
          latencyMs.push(performance.now() - sent);
          answers.push({ query, logits });
        }
      });
      const streamRuns = streaming.map(async (client, i) => {
        const stream = client.stream();
        const random = seededRandom(500 + i);
        const todo = queries(1000 + i);
        const worker = async () => {
          for (let query = todo.shift(); query; query = todo.shift()) {
            const sent = performance.now();
            for (let attempt = 0; ; attempt++) {
              try {
                const result = await stream.softLabels({
                  model: 'small-teacher',
                  mix: query,
                });
                latencyMs.push(performance.now() - sent);
                answers.push({ query, logits: result.logits });
                break;
              } catch (err) {
                const busy =
                  err instanceof TeacherCallError &&
                  err.code === grpc.status.RESOURCE_EXHAUSTED;
                if (!busy || attempt >= 1000) throw err;
                streamRetries++;
                await backoff(random, attempt);
              }
            }
          }
        };
        await Promise.all(Array.from({ length: STREAM_IN_FLIGHT }, worker));
        await stream.close();
      });
      await until(() => server.stats().refused > 0, 'the queue to overflow', 20_000);
      gate.openAll();
      // No error reaches any student: every run resolves.
      await Promise.all([...trainerRuns, ...streamRuns]);
      const seconds = (performance.now() - started) / 1000;

      const stats = server.stats();
      const trainerRetries = trainers.reduce((sum, u) => sum + u.stats().retries, 0);
      const students = TRAINER_STUDENTS + STREAM_STUDENTS;
      assert.equal(answers.length, students * REQUESTS);
      // Back-pressure happened and every refusal was retried by its client:
      // the server's count of RESOURCE_EXHAUSTED answers is the clients'
      // count of retries (nothing else failed on loopback).
      assert.ok(stats.refused > 0);
      assert.equal(trainerRetries + streamRetries, stats.refused);
      assert.ok(trainerRetries > 0 || streamRetries > 0);
      for (const u of trainers) assert.equal(u.stats().failovers, 0);
      // The queue stayed bounded and is empty; every stream was released.
      assert.ok(stats.peakQueuedRows <= QUEUE_LIMIT, `peak ${stats.peakQueuedRows}`);
      assert.equal(stats.queuedRows, 0);
      assert.equal(stats.aborted, 0);
      // A trainer's teacher keeps its stream open until it is closed.
      for (const u of trainers.splice(0)) await u.close();
      await until(() => server.stats().openStreams === 0, 'the streams to close');
      // Memory: the server's inference left no tensor behind.
      assert.equal(tf.memory().numTensors, tensorsBefore);
      const rows = answers.reduce((sum, a) => sum + a.query.lambda.length, 0);
      // Warm-up rows plus every answered row went through the model once.
      assert.equal(stats.rows, rows + warm.lambda.length);

      // Every answer is the teacher's logits for exactly its batch.
      for (const [n, { query, logits }] of answers.entries()) {
        const expected = mixedLogits(model, query.images, query.partner, query.lambda);
        assert.equal(logits.length, expected.length, `answer ${n}`);
        for (let i = 0; i < logits.length; i++) {
          assert.ok(
            Math.abs(logits[i] - expected[i]) <= 1e-5,
            `answer ${n} element ${i}: ${logits[i]} vs ${expected[i]}`,
          );
        }
      }
      const sorted = [...latencyMs].sort((a, b) => a - b);
      const at = (q: number) =>
        sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
      t.diagnostic(
        `${students} students, ${answers.length} requests, ${rows} rows in ` +
          `${seconds.toFixed(2)} s (${(rows / seconds).toFixed(0)} rows/s); latency ` +
          `p50 ${at(0.5).toFixed(1)} ms, p99 ${at(0.99).toFixed(1)} ms; ` +
          `${stats.refused} RESOURCE_EXHAUSTED retried (${trainerRetries} trainer, ` +
          `${streamRetries} stream); ${stats.batches} batches, queue peak ` +
          `${stats.peakQueuedRows}/${QUEUE_LIMIT} rows`,
      );
    } finally {
      for (const u of trainers) await u.close();
      for (const c of streaming) c.close();
      gate.openAll();
      await server.stop(1000);
      model.dispose();
    }
  });
});
