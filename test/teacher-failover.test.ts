import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend, tf } from '@vicinal/backend';
import {
  type Bus,
  connectBus,
  findTeachers,
  type NatsServerHandle,
  startNatsServer,
} from '@vicinal/bus';
import { seededRandom } from '@vicinal/data';
import { createLogger } from '@vicinal/telemetry';
import {
  type FailoverTeacher,
  type MixedBatchQuery,
  type TeacherSource,
  TeacherUnavailableError,
  trainNetwork,
} from '@vicinal/training';
import { openTeacher } from '../apps/student-trainer/src/teacher-connection.js';
import { expectedMixedLogits, TINY } from './support/tiny-teacher.js';

// A student trains while the teacher replica it uses is killed (SIGKILL, its
// registry entry left to expire): it must switch to the other replica and
// finish with every planned step run exactly once, on logits a live teacher
// computed for exactly that batch. Everything runs over loopback: a real
// nats-server for the registry, each teacher in its own process.

const here = dirname(fileURLToPath(import.meta.url));
const log = createLogger('failover-test', process.env.VICINAL_LOG_LEVEL ?? 'silent');
const IMAGES = 96;
const BATCH = 8;
const EPOCHS = 2;
const STEPS = (IMAGES / BATCH) * EPOCHS;

interface TeacherProcess {
  name: string;
  child: ChildProcess;
  address: string;
  exited: Promise<number | string>;
  /** Set when the process is gone (after its exit event). */
  gone: boolean;
}

/** Starts a tiny teacher process and waits until it is registered. */
async function startTeacherProcess(
  natsUrl: string,
  name: string,
): Promise<TeacherProcess> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      import.meta.resolve('tsx'),
      join(here, 'support', 'tiny-teacher-process.ts'),
      natsUrl,
      name,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const handle = { name, child, gone: false } as TeacherProcess;
  handle.exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      handle.gone = true;
      resolve(code ?? signal ?? 'unknown');
    });
  });
  handle.address = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /ready (\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    handle.exited.then((code) =>
      reject(new Error(`teacher ${name} exited (${code}) before ready:\n${stderr}`)),
    );
  });
  return handle;
}

/** A seeded synthetic 4x4x1 data set with 3 classes. */
function dataset() {
  const random = seededRandom(5);
  const pixels = TINY.h * TINY.w * TINY.c;
  return {
    images: Uint8Array.from({ length: IMAGES * pixels }, () =>
      Math.floor(random() * 256),
    ),
    labels: Uint8Array.from({ length: IMAGES }, (_, i) => i % TINY.k),
    count: IMAGES,
  };
}

function studentModel(): tfl.LayersModel {
  const model = tfl.sequential();
  model.add(tfl.layers.flatten({ inputShape: [TINY.h, TINY.w, TINY.c] }));
  model.add(
    tfl.layers.dense({
      units: TINY.k,
      kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }),
    }),
  );
  return model;
}

interface Answer {
  logits: Float32Array;
  expected: Float64Array;
  address: string;
  /** Whether the killed teacher's process had exited when this answer arrived. */
  afterDeath: boolean;
}

/** The student's teacher, recording who answered what and when. */
function recording(
  failover: FailoverTeacher,
  answers: Answer[],
  victim: () => TeacherProcess | undefined,
): TeacherSource {
  return {
    kind: 'remote',
    model: failover.model,
    get address() {
      return failover.address;
    },
    async softLabels(query: MixedBatchQuery) {
      const { logits, address } = await failover.answer(query);
      answers.push({
        logits,
        expected: expectedMixedLogits(query.images, query.partner, query.lambda),
        address,
        afterDeath: victim()?.gone ?? false,
      });
      return logits;
    },
    // Several steps' batches in one request, as a student trainer asks.
    async softLabelsMany(queries: readonly MixedBatchQuery[]) {
      const { logits, address } = await failover.answerMany(queries);
      queries.forEach((query, i) => {
        answers.push({
          logits: logits[i],
          expected: expectedMixedLogits(query.images, query.partner, query.lambda),
          address,
          afterDeath: victim()?.gone ?? false,
        });
      });
      return logits;
    },
    close: () => failover.close(),
  };
}

/** Counts optimizer steps: every minimize() of every Adam trainNetwork creates. */
function countOptimizerSteps(): { count: () => number; restore: () => void } {
  const train = tf.train as { adam: typeof tf.train.adam };
  const original = train.adam;
  let steps = 0;
  train.adam = (...args: Parameters<typeof tf.train.adam>) => {
    const optimizer = original(...args);
    const minimize = optimizer.minimize.bind(optimizer);
    optimizer.minimize = (...m: Parameters<typeof minimize>) => {
      steps += 1;
      return minimize(...m);
    };
    return optimizer;
  };
  return { count: () => steps, restore: () => (train.adam = original) };
}

describe('a student survives its teacher replica dying', () => {
  let nats: NatsServerHandle;
  let bus: Bus;
  const teachers: TeacherProcess[] = [];
  before(async () => {
    await initBackend('cpu');
    nats = await startNatsServer();
    // A crashed teacher's registration expires 2 s after its last heartbeat.
    bus = await connectBus(nats.url, { name: 'failover-test', teacherTtlSeconds: 2 });
    teachers.push(
      ...(await Promise.all(
        ['teacher-a', 'teacher-b'].map((n) => startTeacherProcess(nats.url, n)),
      )),
    );
  });
  after(async () => {
    for (const t of teachers) if (!t.gone) t.child.kill('SIGKILL');
    await Promise.all(teachers.map((t) => t.exited));
    await bus?.close();
    await nats?.stop();
  });

  test('SIGKILL of the teacher in use mid-run: every step runs once, on live logits', async () => {
    assert.equal((await findTeachers(bus, 'tiny-teacher')).length, 2);
    const stop = new AbortController();
    const failover = await openTeacher(bus, 'tiny-teacher', {
      waitSeconds: 30,
      security: { insecure: false },
      worker: 'student-1',
      signal: stop.signal,
      log,
    });
    const first = teachers.find((t) => t.address === failover.address);
    const survivor = teachers.find((t) => t !== first);
    assert.ok(
      first && survivor,
      `connected to a registered teacher (${failover.address})`,
    );
    const answers: Answer[] = [];
    const stepsSeen: string[] = [];
    let killed = false;
    const optimizer = countOptimizerSteps();
    let summary: Awaited<ReturnType<typeof trainNetwork>>;
    try {
      summary = await trainNetwork({
        model: studentModel(),
        train: dataset(),
        spec: {
          shape: [TINY.h, TINY.w, TINY.c],
          numClasses: TINY.k,
          mean: [TINY.mean],
          std: [TINY.std],
        },
        recipe: {
          architecture: 'student-cnn',
          epochs: EPOCHS,
          batchSize: BATCH,
          learningRate: 0.01,
          trainImages: IMAGES,
        },
        mixup: { alpha: 1, p: 1 },
        loss: { beta: 0.7, temperature: 2, variant: 'plain' },
        teacher: recording(failover, answers, () => (killed ? first : undefined)),
        seed: 9,
        prefetch: 2,
        progressEvery: 1,
        onStep: (p) => {
          stepsSeen.push(`${p.epoch}.${p.step}`);
          if (stepsSeen.length === 5) {
            killed = true;
            first.child.kill('SIGKILL');
          }
        },
      });
    } finally {
      optimizer.restore();
      await failover.close();
    }

    // Every planned step ran exactly once, in order.
    const planned = [];
    for (let e = 1; e <= EPOCHS; e++) {
      for (let s = 1; s <= IMAGES / BATCH; s++) planned.push(`${e}.${s}`);
    }
    assert.deepEqual(stepsSeen, planned);
    assert.equal(summary.steps, STEPS);
    assert.equal(summary.samples, IMAGES * EPOCHS);
    assert.equal(optimizer.count(), STEPS, 'optimizer steps');
    assert.equal(answers.length, STEPS, 'one teacher answer per step');

    // The teacher in use died, and the student moved to the other one.
    assert.equal(await first.exited, 'SIGKILL');
    const stats = failover.stats();
    assert.deepEqual(stats.addresses, [first.address, survivor.address]);
    assert.equal(stats.failovers, 1);
    assert.equal(stats.answered, STEPS);
    assert.ok(stats.retries >= 1);

    // Each answer is the teacher's function of exactly that mixed batch, and
    // nothing came from the dead replica after it was gone.
    for (const [i, a] of answers.entries()) {
      assert.equal(a.logits.length, a.expected.length);
      for (let j = 0; j < a.logits.length; j++) {
        assert.ok(
          Math.abs(a.logits[j] - a.expected[j]) < 1e-4,
          `answer ${i} logit ${j}: ${a.logits[j]} vs ${a.expected[j]}`,
        );
      }
      if (a.afterDeath) assert.equal(a.address, survivor.address, `answer ${i}`);
    }
    const fromSurvivor = answers.filter((a) => a.address === survivor.address).length;
    // Steps 13.. were requested only after the kill at step 5 (two queries of
    // four steps in flight: steps 9-12 left after step 4).
    assert.ok(fromSurvivor >= STEPS - 12, `${fromSurvivor} answers from the survivor`);

    // The crashed replica never deregistered; its entry expires by TTL.
    const expiry = Date.now() + 15_000;
    let live = await findTeachers(bus, 'tiny-teacher');
    while (live.length > 1 && Date.now() < expiry) {
      await new Promise((r) => setTimeout(r, 200));
      live = await findTeachers(bus, 'tiny-teacher');
    }
    assert.deepEqual(
      live.map((t) => t.address),
      [survivor.address],
    );
  });

  test('when no teacher is left the job fails after the deadline, naming why', async () => {
    const survivor = teachers.find((t) => !t.gone);
    assert.ok(survivor);
    const failover = await openTeacher(bus, 'tiny-teacher', {
      waitSeconds: 1.5,
      security: { insecure: false },
      worker: 'student-2',
      signal: new AbortController().signal,
      log,
    });
    assert.equal(failover.address, survivor.address);
    let steps = 0;
    try {
      await assert.rejects(
        trainNetwork({
          model: studentModel(),
          train: dataset(),
          spec: {
            shape: [TINY.h, TINY.w, TINY.c],
            numClasses: TINY.k,
            mean: [TINY.mean],
            std: [TINY.std],
          },
          recipe: {
            architecture: 'student-cnn',
            epochs: 1,
            batchSize: BATCH,
            learningRate: 0.01,
            trainImages: IMAGES,
          },
          mixup: { alpha: 1, p: 1 },
          loss: { beta: 0.7, temperature: 2, variant: 'plain' },
          teacher: failover,
          seed: 9,
          // One query per step, so queries still leave after the teacher has
          // gone (four steps per query would have asked for all 12 by step 4,
          // which the draining teacher still answers).
          stepsPerQuery: 1,
          progressEvery: 1,
          onStep: () => {
            steps += 1;
            // A graceful stop: the teacher deregisters, finishes and exits.
            if (steps === 3) survivor.child.kill('SIGTERM');
          },
        }),
        (err: Error) => {
          assert.ok(err instanceof TeacherUnavailableError, String(err));
          assert.match(
            err.message,
            /no teacher for model "tiny-teacher" answered within 1500 ms after the first failure/,
          );
          assert.match(err.message, /no live teacher for model "tiny-teacher"/);
          return true;
        },
      );
    } finally {
      await failover.close();
    }
    // Checked before waiting for the survivor: it is stopped at step 3 only.
    assert.ok(
      steps >= 3 && steps < IMAGES / BATCH,
      `${steps} steps ran before the failure`,
    );
    assert.equal(await survivor.exited, 0, 'the graceful stop exits cleanly');
    assert.deepEqual(await findTeachers(bus, 'tiny-teacher'), [], 'deregistered');
  });
});
