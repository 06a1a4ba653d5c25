/**
 * Bench child: many students on one teacher server with a small queue, so
 * back-pressure happens. Each student is a FailoverTeacher over a
 * RemoteTeacher (what the student trainer uses) sending a bounded number of
 * "mix on the teacher" queries one after the other; RESOURCE_EXHAUSTED
 * answers are waited out and retried by the client. A repetition's
 * throughput is all rows over its wall time; latency is per query,
 * retries included. Any error that reaches a student fails the bench.
 */
import { seededRandom } from '@vicinal/data';
import { FailoverTeacher, type MixedBatchQuery, RemoteTeacher } from '@vicinal/training';
import { childSettings, progress, runChild } from './child-io.js';

export interface ManyStudentsSettings {
  address: string;
  name: string;
  shape: [number, number, number];
  students: number;
  batch: number;
  requestsPerStudent: number;
  reps: number;
  /** The server's queue limit in rows (reported with the figures). */
  queueLimit: number;
  seed: number;
}

export interface ManyStudentsResult {
  students: number;
  batch: number;
  requestsPerStudent: number;
  queueLimit: number;
  /** One value per repetition. */
  samplesPerSecond: number[];
  /** Every query of every repetition, ms. */
  latencyMs: number[];
  /** RESOURCE_EXHAUSTED answers retried by the students, all repetitions. */
  resourceExhaustedRetries: number;
  /** Teacher switches (0 on a healthy loopback server). */
  failovers: number;
}

function query(shape: [number, number, number], batch: number, seed: number) {
  const random = seededRandom(seed);
  const [h, w, c] = shape;
  const images = Uint8Array.from({ length: batch * h * w * c }, () =>
    Math.floor(random() * 256),
  );
  const partner = Int32Array.from({ length: batch }, (_, i) => (i * 7 + 3) % batch);
  const lambda = Float32Array.from({ length: batch }, () => random());
  return {
    images,
    shape: [batch, h, w, c],
    partner,
    lambda,
  } satisfies MixedBatchQuery;
}

async function main(): Promise<ManyStudentsResult> {
  const s = childSettings<ManyStudentsSettings>('many-students');
  const students: FailoverTeacher[] = [];
  try {
    for (let i = 0; i < s.students; i++) {
      students.push(
        await FailoverTeacher.open({
          model: s.name,
          resolve: async () => s.address,
          connect: (address) =>
            RemoteTeacher.connect(address, s.name, { deadlineMs: 300_000 }),
          initialBackoffMs: 5,
          maxBackoffMs: 200,
          deadlineMs: 300_000,
          jitterSeed: s.seed + i,
        }),
      );
    }
    const queries = students.map((_, i) => query(s.shape, s.batch, s.seed + 100 * i));
    // Warm-up: one query per student.
    await Promise.all(students.map((t, i) => t.softLabels(queries[i])));
    const retriesBefore = students.reduce((n, t) => n + t.stats().retries, 0);
    const samplesPerSecond: number[] = [];
    const latencyMs: number[] = [];
    for (let rep = 1; rep <= s.reps; rep++) {
      const started = performance.now();
      await Promise.all(
        students.map(async (teacher, i) => {
          for (let r = 0; r < s.requestsPerStudent; r++) {
            const sent = performance.now();
            await teacher.softLabels(queries[i]);
            latencyMs.push(performance.now() - sent);
          }
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      const rows = s.students * s.requestsPerStudent * s.batch;
      samplesPerSecond.push(rows / seconds);
      progress(
        `rep ${rep}/${s.reps}: ${s.students} students, ${(rows / seconds).toFixed(0)} samples/s`,
      );
    }
    const stats = students.map((t) => t.stats());
    return {
      students: s.students,
      batch: s.batch,
      requestsPerStudent: s.requestsPerStudent,
      queueLimit: s.queueLimit,
      samplesPerSecond,
      latencyMs,
      resourceExhaustedRetries: stats.reduce((n, t) => n + t.retries, 0) - retriesBefore,
      failovers: stats.reduce((n, t) => n + t.failovers, 0),
    };
  } finally {
    for (const t of students) await t.close();
  }
}

runChild('many-students', main);
