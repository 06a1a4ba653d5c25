import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { initBackend } from '@vicinal/backend';
import { encodeArtifact } from '@vicinal/models';
import {
  type InferenceThread,
  startInferenceThread,
  startTeacherServer,
  toInferFunction,
} from '@vicinal/teacher-server';
import { createLogger } from '@vicinal/telemetry';
import { TeacherClient } from '@vicinal/wire';
import {
  mixedLogits,
  SMALL,
  SMALL_PIXELS,
  smallMetadata,
  smallModel,
} from './support/tfjs-teacher.js';

// The thread and this process both run the pure-JS backend, so the thread's
// answers can be held to the in-process model's to float32 rounding.
await initBackend('cpu');
const log = createLogger(
  'inference-thread-test',
  process.env.VICINAL_LOG_LEVEL ?? 'silent',
);
const shape = (rows: number) => [rows, SMALL.h, SMALL.w, SMALL.c] as const;

function rowsOf(rows: number, seed: number): Float32Array {
  return Float32Array.from(
    { length: rows * SMALL_PIXELS },
    (_, i) => Math.sin(seed * 31 + i * 0.7) * 1.5,
  );
}

/** Waits for `cond` (checked every 10 ms; the test runner's timeout bounds it). */
async function until(cond: () => boolean) {
  while (!cond()) await new Promise((r) => setTimeout(r, 10));
}

function assertClose(actual: Float32Array, expected: Float32Array, what: string) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= 1e-5,
      `${what}: element ${i} is ${actual[i]}, expected ${expected[i]}`,
    );
  }
}

describe('inference thread', () => {
  const model = smallModel();
  const inProcess = toInferFunction(model);
  let thread: InferenceThread;

  before(async () => {
    thread = await startInferenceThread({
      artifact: await encodeArtifact(model),
      backend: 'cpu',
      logger: log,
    });
  });
  after(() => thread.close());

  test('reports the backend it loaded the model on and the weights it holds', () => {
    assert.equal(thread.backend.name, 'cpu');
    assert.equal(thread.parameters, model.countParams());
  });

  test('answers as the same model in this process, and leaves the input intact', async () => {
    const input = rowsOf(6, 1);
    const before = input.slice();
    const expected = (await inProcess(input, shape(6))) as Float32Array;
    const actual = await thread.infer(input, shape(6));
    assert.equal(actual.length, 6 * SMALL.k);
    assertClose(actual, expected, 'thread logits');
    assert.deepEqual(input, before, 'the caller keeps its input');
  });

  test('an input handed over moves to the thread, unless it is a view', async () => {
    const input = rowsOf(4, 2);
    const expected = (await inProcess(input, shape(4))) as Float32Array;
    const moved = await thread.infer(input, shape(4), true);
    assertClose(moved, expected, 'handed-over logits');
    assert.equal(input.byteLength, 0, 'the handed-over buffer left this thread');
    // A view of a larger buffer (as of request bytes) is copied, never moved.
    const whole = rowsOf(5, 2);
    const view = whole.subarray(0, 4 * SMALL_PIXELS);
    const fromView = await thread.infer(view, shape(4), true);
    assertClose(fromView, expected, 'logits of a view');
    assert.equal(whole.byteLength, 5 * SMALL_PIXELS * 4, 'the viewed buffer stays');
  });

  test('concurrent calls each get their own rows back', async () => {
    const inputs = [1, 2, 3, 4, 5].map((rows) => rowsOf(rows, 10 + rows));
    const answers = await Promise.all(
      inputs.map((input, i) => thread.infer(input, shape(i + 1))),
    );
    for (const [i, input] of inputs.entries()) {
      const expected = (await inProcess(input, shape(i + 1))) as Float32Array;
      assertClose(answers[i], expected, `call ${i}`);
    }
  });

  test('a failing inference rejects that call only; the thread keeps serving', async () => {
    await assert.rejects(
      thread.infer(rowsOf(2, 3), [2, SMALL.h + 1, SMALL.w, SMALL.c]),
      (err: Error) => /size|shape|match/i.test(err.message),
    );
    const ok = await thread.infer(rowsOf(1, 4), shape(1));
    assert.equal(ok.length, SMALL.k);
    assert.equal(thread.restarts(), 0);
  });

  test('after its thread dies the next call starts a new one', async () => {
    await thread.terminate();
    const input = rowsOf(3, 6);
    assertClose(
      await thread.infer(input, shape(3)),
      (await inProcess(input, shape(3))) as Float32Array,
      'after restart',
    );
    assert.equal(thread.restarts(), 1);
  });

  test('after close, calls are refused', async () => {
    const closing = await startInferenceThread({
      artifact: await encodeArtifact(model),
      backend: 'cpu',
      logger: log,
    });
    await closing.close();
    await assert.rejects(
      closing.infer(rowsOf(1, 7), shape(1)),
      /inference thread: closed/,
    );
  });
});

test('calls waiting on a thread that dies fail with the reason', async () => {
  // This thread holds every call, so the calls are surely waiting when it ends.
  const stalled = await startInferenceThread({
    artifact: new Uint8Array(0),
    entry: new URL('./support/stalled-inference-worker.mjs', import.meta.url),
    logger: log,
  });
  const waiting = [
    stalled.infer(rowsOf(2, 1), shape(2)),
    stalled.infer(rowsOf(1, 2), shape(1)),
  ];
  await stalled.terminate();
  for (const call of waiting)
    await assert.rejects(call, /inference thread exited \(code 1\)/);
  // The next call goes to a fresh thread; it holds that one too, until closed.
  const next = stalled.infer(rowsOf(1, 3), shape(1));
  await until(() => stalled.restarts() === 1);
  await stalled.close();
  await assert.rejects(next, /inference thread exited/);
});

test('an artifact that does not load is refused at start with the reason', async () => {
  const artifact = await encodeArtifact(smallModel());
  const truncated = artifact.subarray(0, artifact.length - 100);
  await assert.rejects(
    startInferenceThread({ artifact: truncated, backend: 'cpu', logger: log }),
    /inference thread could not load the model: .*artifact/i,
  );
});

test('a teacher server on an inference thread answers mix-on-the-teacher queries', async () => {
  const model = smallModel();
  const thread = await startInferenceThread({
    artifact: await encodeArtifact(model),
    backend: 'cpu',
    logger: log,
  });
  const server = await startTeacherServer({
    address: '127.0.0.1:0',
    model: thread.infer,
    metadata: smallMetadata(),
    logger: log,
  });
  const client = await TeacherClient.connect(server.address);
  try {
    const rows = 8;
    const images = Uint8Array.from(
      { length: rows * SMALL_PIXELS },
      (_, i) => (i * 37) % 256,
    );
    const partner = Int32Array.from({ length: rows }, (_, i) => (i + 3) % rows);
    const lambda = Float32Array.from({ length: rows }, (_, i) => i / (rows - 1));
    const answers = await Promise.all(
      [0, 1, 2].map(() =>
        client.softLabels({
          model: 'small-teacher',
          mix: { images, shape: [rows, SMALL.h, SMALL.w, SMALL.c], partner, lambda },
        }),
      ),
    );
    const expected = mixedLogits(model, images, partner, lambda);
    for (const answer of answers) assertClose(answer.logits, expected, 'served logits');
    // Requests of other sizes and contents, one after the other and together,
    // each get their own answer.
    const ask = (n: number, seed: number) => {
      const px = Uint8Array.from(
        { length: n * SMALL_PIXELS },
        (_, i) => (i * 13 + seed * 71) % 256,
      );
      const p = Int32Array.from({ length: n }, (_, i) => (i + seed) % n);
      const l = Float32Array.from({ length: n }, (_, i) => ((i + seed) % 5) / 4);
      return client
        .softLabels({
          model: 'small-teacher',
          mix: {
            images: px,
            shape: [n, SMALL.h, SMALL.w, SMALL.c],
            partner: p,
            lambda: l,
          },
        })
        .then((answer) =>
          assertClose(
            answer.logits,
            mixedLogits(model, px, p, l),
            `${n} rows, seed ${seed}`,
          ),
        );
    };
    for (const [n, seed] of [
      [8, 1],
      [3, 2],
      [8, 3],
      [5, 4],
    ])
      await ask(n, seed);
    await Promise.all([ask(8, 5), ask(2, 6), ask(8, 7), ask(6, 8)]);
  } finally {
    client.close();
    await server.stop(1000);
    await thread.close();
  }
});
