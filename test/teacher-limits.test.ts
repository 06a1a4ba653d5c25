import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import type * as tfl from '@tensorflow/tfjs-layers';
import { initBackend, tf } from '@vicinal/backend';
import { teacherServerConfig } from '@vicinal/config';
import { seededRandom } from '@vicinal/data';
import {
  startTeacherServer,
  type TeacherServer,
  type TeacherServerOptions,
} from '@vicinal/teacher-server';
import { createLogger } from '@vicinal/telemetry';
import {
  type SoftLabelsRequestMessage,
  type SoftLabelsResponseMessage,
  TeacherCallError,
  TeacherClient,
  teacherMethod,
} from '@vicinal/wire';
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

const log = createLogger(
  'teacher-limits-test',
  process.env.VICINAL_LOG_LEVEL ?? 'silent',
);
const shape = (rows: number): [number, number, number, number] => [
  rows,
  SMALL.h,
  SMALL.w,
  SMALL.c,
];

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>) {
  assert.equal(actual.length, expected.length, 'lengths');
  for (let i = 0; i < actual.length; i++) {
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= 1e-5,
      `element ${i}: ${actual[i]} vs ${expected[i]}`,
    );
  }
}

function rejectsWith(code: grpc.status, pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof TeacherCallError, String(err));
    assert.equal(err.code, code, err.message);
    assert.match(err.message, pattern);
    return true;
  };
}

describe('teacher server limits: deadlines, cancelled calls, streams, settings', () => {
  const random = seededRandom(23);
  let model: tfl.LayersModel;
  let gate: ReturnType<typeof gatedInference>;
  let server: TeacherServer;
  let client: TeacherClient;

  /** A mix query of `rows` rows, and the logits the teacher owes for it. */
  function query(rows: number) {
    const images = pixels(random, rows);
    const partner = Int32Array.from({ length: rows }, (_, i) => (i + 1) % rows);
    const lambda = Float32Array.from({ length: rows }, () => random());
    return {
      mix: { images, shape: shape(rows), partner, lambda },
      expected: () => mixedLogits(model, images, partner, lambda),
    };
  }

  /** A batch held inside the model, so the next requests wait in the queue. */
  async function holdModel(rows = 4) {
    const q = query(rows);
    const answer = client.softLabels({ mix: q.mix });
    await until(() => gate.waiting() === 1, 'the first batch to reach the model');
    return { answer, q };
  }

  before(async () => {
    model = smallModel();
    gate = gatedInference(model);
    server = await startTeacherServer({
      address: '127.0.0.1:0',
      model: gate.infer,
      metadata: smallMetadata(),
      maxBatch: 8,
      maxDelayMs: 0,
      queueLimit: 32,
      maxStreams: 2,
      logger: log,
    });
    client = await TeacherClient.connect(server.address);
    // Warm the model up so later tensor counts see no lazily created state.
    gate.openAll();
    const warm = query(2);
    assertClose((await client.softLabels({ mix: warm.mix })).logits, warm.expected());
  });

  /** A second server on a gated copy of the model, with its own limits. */
  async function gatedServer(options: Partial<TeacherServerOptions>) {
    const fresh = gatedInference(model);
    const s = await startTeacherServer({
      address: '127.0.0.1:0',
      model: fresh.infer,
      metadata: smallMetadata(),
      maxDelayMs: 0,
      logger: log,
      ...options,
    });
    const c = await TeacherClient.connect(s.address);
    const stop = async () => {
      c.close();
      fresh.openAll();
      await s.stop(1000);
    };
    return { fresh, s, c, stop };
  }

  after(async () => {
    client.close();
    gate.openAll();
    await server.stop(1000);
    model.dispose();
  });

  test('a request still queued at its client deadline gets DEADLINE_EXCEEDED and is never run', async () => {
    const tensors = tf.memory().numTensors;
    const { fresh, s, c, stop } = await gatedServer({ maxBatch: 4 });
    try {
      const held = query(4);
      const first = c.softLabels({ mix: held.mix });
      await until(() => fresh.waiting() === 1, 'the first batch inside the model');
      const late = query(3);
      await assert.rejects(
        c.softLabels({ mix: late.mix }, { deadlineMs: 200 }),
        rejectsWith(grpc.status.DEADLINE_EXCEEDED, /deadline/i),
      );
      // The server drops it from its queue while the model is still busy.
      await until(() => s.stats().aborted === 1, 'the server to drop the late request');
      assert.equal(s.stats().queuedRows, 0);
      fresh.openAll();
      assertClose((await first).logits, held.expected());
      const next = query(2);
      assertClose((await c.softLabels({ mix: next.mix })).logits, next.expected());
      // Only the held batch and the next one reached the model.
      assert.deepEqual(fresh.entered, [4, 2]);
      assert.equal(tf.memory().numTensors, tensors);
    } finally {
      await stop();
    }
  });

  test("the server's request timeout answers DEADLINE_EXCEEDED naming the limit", async () => {
    const { fresh, s, c, stop } = await gatedServer({
      maxBatch: 4,
      requestTimeoutMs: 150,
    });
    try {
      const held = c.softLabels({ mix: query(4).mix });
      await until(() => fresh.waiting() === 1, 'the first batch inside the model');
      const queued = c.softLabels({ mix: query(2).mix }, { deadlineMs: 30_000 });
      const timeout = /request timeout of 150 ms/;
      // Both the batch inside the model and the one behind it run out of time.
      await assert.rejects(held, rejectsWith(grpc.status.DEADLINE_EXCEEDED, timeout));
      await assert.rejects(queued, rejectsWith(grpc.status.DEADLINE_EXCEEDED, timeout));
      assert.equal(s.stats().queuedRows, 0);
      fresh.openAll();
      const next = query(3);
      assertClose((await c.softLabels({ mix: next.mix })).logits, next.expected());
      assert.deepEqual(fresh.entered, [4, 3]);
    } finally {
      await stop();
    }
  });

  test('cancelled unary calls and streams leave the queue; no tensor leaks; the server keeps serving', async () => {
    gate.hold();
    const enteredBefore = gate.entered.length;
    const tensors = tf.memory().numTensors;
    const held = await holdModel(4);
    // A unary call cancelled by its client while it waits in the queue.
    const raw = new grpc.Client(server.address, grpc.credentials.createInsecure());
    const method = teacherMethod<
      Partial<SoftLabelsRequestMessage>,
      SoftLabelsResponseMessage
    >('SoftLabels');
    const images = Buffer.from(pixels(random, 2));
    let cancelledCode: grpc.status | null = null;
    const settled = new Promise<void>((resolve) => {
      const call = raw.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        {
          mix: {
            images: { dtype: 'DTYPE_UINT8', shape: shape(2), data: images },
            partner: [1, 0],
            lambda: [0.5, 0.5],
            returnConstituents: false,
          },
        },
        (err) => {
          cancelledCode = err?.code ?? null;
          resolve();
        },
      );
      until(() => server.stats().queuedRows === 2, 'the unary call to be queued').then(
        () => call.cancel(),
        () => call.cancel(),
      );
    });
    await settled;
    assert.equal(cancelledCode, grpc.status.CANCELLED);
    await until(() => server.stats().queuedRows === 0, 'the cancelled call to leave');
    // A stream with two requests queued, cancelled by its client.
    const stream = client.stream();
    const a = stream.softLabels({ mix: query(3).mix });
    const b = stream.softLabels({ mix: query(1).mix });
    await until(() => server.stats().queuedRows === 4, 'the stream requests to queue');
    assert.equal(server.stats().openStreams, 1);
    stream.cancel();
    await assert.rejects(a, rejectsWith(grpc.status.CANCELLED, /cancel/i));
    await assert.rejects(b, rejectsWith(grpc.status.CANCELLED, /cancel/i));
    await until(
      () => server.stats().queuedRows === 0 && server.stats().openStreams === 0,
      'the cancelled stream to be released',
    );
    gate.openAll();
    assertClose((await held.answer).logits, held.q.expected());
    // Only the held batch ran: nothing cancelled reached the model.
    assert.deepEqual(gate.entered.slice(enteredBefore), [4]);
    const next = query(5);
    assertClose((await client.softLabels({ mix: next.mix })).logits, next.expected());
    raw.close();
    assert.equal(tf.memory().numTensors, tensors);
    assert.equal(await client.health(), 'SERVING');
  });

  test('SoftLabelsStream calls beyond maxStreams get RESOURCE_EXHAUSTED; a closed one makes room', async () => {
    gate.openAll();
    const one = client.stream();
    const two = client.stream();
    const q1 = query(2);
    const q2 = query(2);
    assertClose((await one.softLabels({ mix: q1.mix })).logits, q1.expected());
    assertClose((await two.softLabels({ mix: q2.mix })).logits, q2.expected());
    assert.equal(server.stats().openStreams, 2);
    const three = client.stream();
    await assert.rejects(
      three.softLabels({ mix: query(1).mix }),
      rejectsWith(
        grpc.status.RESOURCE_EXHAUSTED,
        /streams: 2 SoftLabelsStream calls open, limit 2/,
      ),
    );
    // Unary calls are not streams: still served.
    const unary = query(3);
    assertClose((await client.softLabels({ mix: unary.mix })).logits, unary.expected());
    await one.close();
    await until(() => server.stats().openStreams === 1, 'the closed stream to count off');
    const four = client.stream();
    const q4 = query(2);
    assertClose((await four.softLabels({ mix: q4.mix })).logits, q4.expected());
    await two.close();
    await until(() => server.stats().openStreams === 1, 'the second stream to count off');
    // A stream whose deadline passes gives its slot back without being closed.
    const short = client.stream({ deadlineMs: 300 });
    const q5 = query(1);
    assertClose((await short.softLabels({ mix: q5.mix })).logits, q5.expected());
    assert.equal(server.stats().openStreams, 2);
    await until(
      () => server.stats().openStreams === 1,
      'the expired stream to count off',
    );
    await four.close();
    await until(() => server.stats().openStreams === 0, 'every stream to count off');
  });

  test('max batch, queue length, message size, streams and request timeout come from the settings', async () => {
    const config = teacherServerConfig(
      {},
      {
        VICINAL_TEACHER_MODEL: 'small-teacher',
        VICINAL_MAX_BATCH: '4',
        VICINAL_MAX_DELAY_MS: '0',
        VICINAL_QUEUE_LIMIT: '6',
        VICINAL_MAX_MESSAGE_BYTES: '4096',
        VICINAL_MAX_STREAMS: '1',
        VICINAL_REQUEST_TIMEOUT_MS: '5000',
      },
    );
    assert.equal(config.maxBatch, 4);
    assert.equal(config.queueLimit, 6);
    assert.equal(config.maxMessageBytes, 4096);
    assert.equal(config.maxStreams, 1);
    assert.equal(config.requestTimeoutMs, 5000);
    for (const [name, value, field] of [
      ['VICINAL_MAX_STREAMS', '0', 'maxStreams'],
      ['VICINAL_REQUEST_TIMEOUT_MS', '0', 'requestTimeoutMs'],
      ['VICINAL_QUEUE_LIMIT', '0', 'queueLimit'],
      ['VICINAL_MAX_BATCH', '0', 'maxBatch'],
      ['VICINAL_MAX_MESSAGE_BYTES', '10', 'maxMessageBytes'],
      // Past what gRPC's 32-bit length (and Describe's uint32) can say.
      ['VICINAL_MAX_MESSAGE_BYTES', '4294968296', 'maxMessageBytes'],
    ]) {
      assert.throws(
        () => teacherServerConfig({}, { VICINAL_TEACHER_MODEL: 'm', [name]: value }),
        new RegExp(`${field} \\(${name}\\): `),
        name,
      );
    }
    const { maxBatch, maxDelayMs, queueLimit, maxMessageBytes } = config;
    const { fresh, s, c, stop } = await gatedServer({
      ...{ maxBatch, maxDelayMs, queueLimit, maxMessageBytes },
      ...{ maxStreams: config.maxStreams, requestTimeoutMs: config.requestTimeoutMs },
    });
    try {
      const described = await c.describe();
      assert.equal(described.maxBatch, 4);
      assert.equal(described.maxMessageBytes, 4096);
      // Max batch: 5 rows are refused, naming the field.
      await assert.rejects(
        c.softLabels({ mix: query(5).mix }),
        rejectsWith(
          grpc.status.INVALID_ARGUMENT,
          /^INVALID_ARGUMENT: mix\.images\.shape: .*B <= 4/,
        ),
      );
      // Message size: 4 float32 images of 8x8 are 1 KiB; 4 KiB is the limit.
      const big = new Float32Array(4 * 8 * 8 * 5);
      await assert.rejects(
        c.softLabels({ images: { data: big, shape: [4, 8, 8, 5] } }),
        rejectsWith(grpc.status.RESOURCE_EXHAUSTED, /larger than max/),
      );
      // Queue length: 4 rows inside the model, 4 queued, 4 more would make 8 > 6.
      const held = c.softLabels({ mix: query(4).mix });
      await until(() => fresh.waiting() === 1, 'a batch inside the model');
      const queued = c.softLabels({ mix: query(4).mix });
      await until(() => s.stats().queuedRows === 4, 'a batch in the queue');
      await assert.rejects(
        c.softLabels({ mix: query(4).mix }),
        rejectsWith(
          grpc.status.RESOURCE_EXHAUSTED,
          /4 rows waiting \+ 4 requested > limit 6/,
        ),
      );
      assert.equal(s.stats().refused, 1);
      assert.equal(s.stats().peakQueuedRows, 4);
      // Streams: one is open, a second is refused.
      const open = c.stream();
      const streamed = open.softLabels({ mix: query(1).mix });
      await until(() => s.stats().openStreams === 1, 'the stream to open');
      await assert.rejects(
        c.stream().softLabels({ mix: query(1).mix }),
        rejectsWith(grpc.status.RESOURCE_EXHAUSTED, /limit 1/),
      );
      fresh.openAll();
      await Promise.all([held, queued, streamed]);
      await open.close();
    } finally {
      await stop();
    }
  });
});
