import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import type * as tfl from '@tensorflow/tfjs-layers';
import { initBackend, tf } from '@vicinal/backend';
import { seededRandom } from '@vicinal/data';
import { startTeacherServer, type TeacherServer } from '@vicinal/teacher-server';
import { createLogger } from '@vicinal/telemetry';
import {
  decodeFloat16,
  encodeFloat16,
  FIELD_METADATA_KEY,
  type SoftLabelsRequestMessage,
  type SoftLabelsResponseMessage,
  TeacherClient,
  type TensorMessage,
  teacherMethod,
} from '@vicinal/wire';
import {
  mixedLogits,
  SMALL,
  SMALL_PIXELS,
  smallMetadata,
  smallModel,
} from './support/tfjs-teacher.js';

await initBackend('cpu');

const log = createLogger('teacher-fuzz-test', process.env.VICINAL_LOG_LEVEL ?? 'silent');
const MAX_BATCH = 8;
const MAX_MESSAGE_BYTES = 64 * 1024;
/** Bounds of the fuzz run: a count, and a time limit as a safety stop. */
const CASES = 600;
const TIME_LIMIT_MS = 20_000;

type Request = Partial<SoftLabelsRequestMessage>;
const method = teacherMethod<Request, SoftLabelsResponseMessage>('SoftLabels');
const encode = (request: Request) => method.requestSerialize(request);

/** A generated case: what to send and what the server must answer. */
interface Case {
  kind: string;
  bytes: Buffer;
  /**
   * The status code and the field its message must start with; null when
   * the case may be valid by chance (random bytes, truncations): then an OK
   * answer must be right and a refusal must still name a field.
   */
  expect: { code: grpc.status; field: string | null } | null;
}

const REFUSALS = new Set([
  grpc.status.INVALID_ARGUMENT,
  grpc.status.NOT_FOUND,
  grpc.status.RESOURCE_EXHAUSTED,
]);

/** Seeded generator of valid requests and of one-fault mutations of them. */
function generator(seed: number) {
  const random = seededRandom(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  const pick = <T>(items: readonly T[]): T => items[int(0, items.length - 1)];
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(0, 255)));
  const dims = [SMALL.h, SMALL.w, SMALL.c];

  function tensor(
    dtype: 'DTYPE_FLOAT32' | 'DTYPE_FLOAT16' | 'DTYPE_UINT8',
    rows: number,
  ) {
    const n = rows * SMALL_PIXELS;
    if (dtype === 'DTYPE_UINT8') {
      return { dtype, shape: [rows, ...dims], data: bytes(n) } satisfies TensorMessage;
    }
    const values = Float32Array.from({ length: n }, () => random() * 4 - 2);
    const data =
      dtype === 'DTYPE_FLOAT16'
        ? Buffer.from(encodeFloat16(values))
        : Buffer.from(values.buffer);
    return { dtype, shape: [rows, ...dims], data } satisfies TensorMessage;
  }

  /** A request the server must answer, with random rows, dtype, mode, temperature. */
  function valid(): Request {
    const rows = int(1, MAX_BATCH);
    const temperature = random() < 0.5 ? 0 : 0.1 + random() * 5;
    const model = random() < 0.5 ? '' : 'small-teacher';
    if (random() < 0.5) {
      const dtype = pick(['DTYPE_FLOAT32', 'DTYPE_FLOAT16', 'DTYPE_UINT8'] as const);
      return { requestId: int(0, 1e6), model, images: tensor(dtype, rows), temperature };
    }
    return {
      requestId: int(0, 1e6),
      model,
      mix: {
        images: tensor('DTYPE_UINT8', rows),
        partner: Array.from({ length: rows }, () => int(0, rows - 1)),
        lambda: Array.from({ length: rows }, () => random()),
        returnConstituents: random() < 0.5,
      },
      temperature,
    };
  }

  const badDim = () =>
    pick([0, 4294967295, 2147483648, 65536, int(1, 64)].filter((d) => d > 0 || d === 0));

  /** Applies one fault; returns the code and field the server must name. */
  function mutate(r: Request): { code: grpc.status; field: string } {
    const prefix = r.mix ? 'mix.images' : 'images';
    const t = (r.mix ? r.mix.images : r.images) as TensorMessage;
    const rows = t.shape[0];
    const faults: (() => { code: grpc.status; field: string })[] = [
      () => {
        t.dtype = pick([
          0,
          int(4, 1000),
          'DTYPE_UNSPECIFIED',
        ] as const) as TensorMessage['dtype'];
        if (r.mix && random() < 0.5) t.dtype = pick(['DTYPE_FLOAT32', 'DTYPE_FLOAT16']);
        return { code: grpc.status.INVALID_ARGUMENT, field: `${prefix}.dtype` };
      },
      () => {
        // Wrong rank, a wrong image dimension, "negative" (wrapped) or huge dims.
        const shape = [...t.shape];
        const which = int(0, 3);
        if (which === 0) shape.splice(int(0, shape.length), 0, int(1, 9));
        else if (which === 1) shape.splice(int(0, shape.length - 1), 1);
        else {
          const i = int(1, 3);
          let d = badDim();
          while (d === shape[i]) d = badDim();
          shape[i] = d;
        }
        t.shape = shape;
        return { code: grpc.status.INVALID_ARGUMENT, field: `${prefix}.shape` };
      },
      () => {
        t.shape = [
          pick([0, MAX_BATCH + 1, int(MAX_BATCH + 1, 4096), 4294967295]),
          ...dims,
        ];
        return { code: grpc.status.INVALID_ARGUMENT, field: `${prefix}.shape` };
      },
      () => {
        const data = Buffer.from(t.data);
        const cut = int(0, data.length - 1);
        t.data =
          random() < 0.5
            ? data.subarray(0, cut)
            : Buffer.concat([data, bytes(int(1, 9))]);
        return { code: grpc.status.INVALID_ARGUMENT, field: `${prefix}.data` };
      },
      () => {
        r.model = pick([
          'resnet',
          'small-teacher ',
          'SMALL-TEACHER',
          bytes(4).toString('hex'),
        ]);
        return { code: grpc.status.NOT_FOUND, field: 'model' };
      },
      () => {
        r.temperature = pick([
          -1,
          -1e-3,
          Number.NaN,
          Number.POSITIVE_INFINITY,
          -Infinity,
        ]);
        return { code: grpc.status.INVALID_ARGUMENT, field: 'temperature' };
      },
      () => {
        delete r.images;
        delete r.mix;
        return { code: grpc.status.INVALID_ARGUMENT, field: 'input' };
      },
      () => {
        // Oversized: a message past the server's limit, whatever it holds.
        t.data = bytes(MAX_MESSAGE_BYTES + int(1, 4096));
        return { code: grpc.status.RESOURCE_EXHAUSTED, field: '' };
      },
    ];
    if (t.dtype !== 'DTYPE_UINT8') {
      faults.push(() => {
        const values =
          t.dtype === 'DTYPE_FLOAT16'
            ? decodeFloat16(t.data)
            : new Float32Array(Buffer.from(t.data).buffer.slice(0));
        values[int(0, values.length - 1)] = pick([Number.NaN, Infinity, -Infinity]);
        t.data =
          t.dtype === 'DTYPE_FLOAT16'
            ? Buffer.from(encodeFloat16(values))
            : Buffer.from(values.buffer);
        return { code: grpc.status.INVALID_ARGUMENT, field: `${prefix}.data` };
      });
    }
    if (r.mix) {
      const mix = r.mix;
      faults.push(
        () => {
          mix.images = null;
          return { code: grpc.status.INVALID_ARGUMENT, field: 'mix.images' };
        },
        () => {
          mix.partner =
            random() < 0.5 ? mix.partner.slice(1) : [...mix.partner, int(0, rows - 1)];
          return { code: grpc.status.INVALID_ARGUMENT, field: 'mix.partner' };
        },
        () => {
          mix.partner[int(0, rows - 1)] = pick([rows, rows + int(1, 100), 4294967295]);
          return { code: grpc.status.INVALID_ARGUMENT, field: 'mix.partner' };
        },
        () => {
          mix.lambda = random() < 0.5 ? mix.lambda.slice(1) : [...mix.lambda, 0.5];
          return { code: grpc.status.INVALID_ARGUMENT, field: 'mix.lambda' };
        },
        () => {
          mix.lambda[int(0, rows - 1)] = pick([-0.5, 1.5, Number.NaN, Infinity, -1e30]);
          return { code: grpc.status.INVALID_ARGUMENT, field: 'mix.lambda' };
        },
      );
    }
    return pick(faults)();
  }

  function next(): Case {
    const roll = random();
    if (roll < 0.7) {
      const request = valid();
      const fault = mutate(request);
      return {
        kind: `fault ${fault.field || 'size'}`,
        bytes: encode(request),
        expect: { code: fault.code, field: fault.field || null },
      };
    }
    const good = encode(valid());
    if (roll < 0.8)
      return { kind: 'random bytes', bytes: bytes(int(0, 300)), expect: null };
    if (roll < 0.9) {
      return {
        kind: 'truncated',
        bytes: good.subarray(0, int(0, good.length - 1)),
        expect: null,
      };
    }
    const flipped = Buffer.from(good);
    for (let i = int(1, 4); i > 0; i--) flipped[int(0, flipped.length - 1)] = int(0, 255);
    return { kind: 'corrupted', bytes: flipped, expect: null };
  }

  return { next, valid };
}

describe('gRPC fuzzing of the teacher server', () => {
  let model: tfl.LayersModel;
  let server: TeacherServer;
  let raw: grpc.Client;
  let client: TeacherClient;

  /** What the teacher owes for a decoded request (logits or probabilities). */
  function reference(request: SoftLabelsRequestMessage): Float32Array {
    let logits: Float32Array;
    if (request.mix?.images) {
      const { images, partner, lambda } = request.mix;
      logits = mixedLogits(model, Uint8Array.from(images.data), partner, lambda);
    } else {
      const t = request.images as TensorMessage;
      const data = Buffer.from(t.data);
      const x =
        t.dtype === 'DTYPE_UINT8'
          ? Float32Array.from(data, (v) => (v / 255 - SMALL.mean) / SMALL.std)
          : t.dtype === 'DTYPE_FLOAT16'
            ? decodeFloat16(data)
            : new Float32Array(
                data.buffer.slice(data.byteOffset, data.byteOffset + data.length),
              );
      logits = tf.tidy(() =>
        (
          model.predict(
            tf.tensor4d(x, [t.shape[0], SMALL.h, SMALL.w, SMALL.c]),
          ) as tf.Tensor
        ).dataSync(),
      ) as Float32Array;
    }
    if (!(request.temperature > 0)) return logits;
    const out = new Float32Array(logits.length);
    for (let r = 0; r < logits.length; r += SMALL.k) {
      const row = Array.from(
        logits.subarray(r, r + SMALL.k),
        (v) => v / request.temperature,
      );
      const max = Math.max(...row);
      const e = row.map((v) => Math.exp(v - max));
      const sum = e.reduce((a, b) => a + b, 0);
      for (let j = 0; j < SMALL.k; j++) out[r + j] = e[j] / sum;
    }
    return out;
  }

  /** Sends bytes as a SoftLabels request; resolves with the status and the answer. */
  function send(bytes: Buffer) {
    return new Promise<{
      err: grpc.ServiceError | null;
      response?: SoftLabelsResponseMessage;
    }>((resolve) => {
      raw.makeUnaryRequest(
        method.path,
        (b: Buffer) => b,
        method.responseDeserialize,
        bytes,
        new grpc.Metadata(),
        { deadline: Date.now() + 10_000 },
        (err, response) => resolve({ err, response }),
      );
    });
  }

  /** The property every reply must have; returns the outcome's name for the tally. */
  function check(
    c: Case,
    err: grpc.ServiceError | null,
    response?: SoftLabelsResponseMessage,
  ): string {
    const where = `${c.kind} (${c.bytes.length} bytes ${c.bytes.subarray(0, 24).toString('hex')}…)`;
    if (!err) {
      assert.equal(c.expect, null, `${where}: a request with a fault was answered OK`);
      assert.ok(response?.logits, `${where}: OK without logits`);
      const decoded = method.requestDeserialize(c.bytes) as SoftLabelsRequestMessage;
      const expected = reference(decoded);
      const got = Buffer.from(response.logits.data);
      const values = new Float32Array(
        got.buffer.slice(got.byteOffset, got.byteOffset + got.length),
      );
      assert.deepEqual(
        response.logits.shape,
        [expected.length / SMALL.k, SMALL.k],
        where,
      );
      for (let i = 0; i < values.length; i++) {
        assert.ok(Math.abs(values[i] - expected[i]) <= 1e-4, `${where}: element ${i}`);
      }
      return 'OK (valid by chance, right answer)';
    }
    assert.ok(
      REFUSALS.has(err.code),
      `${where}: status ${grpc.status[err.code]} ${err.details}`,
    );
    const field = err.metadata.get(FIELD_METADATA_KEY)[0];
    if (c.expect) {
      assert.equal(err.code, c.expect.code, `${where}: ${err.details}`);
      if (c.expect.field) {
        assert.ok(
          err.details.startsWith(`${c.expect.field}: expected `),
          `${where}: ${err.details}`,
        );
        assert.equal(field, c.expect.field, where);
      } else {
        assert.match(err.details, /larger than max/, where);
      }
    } else if (err.code !== grpc.status.RESOURCE_EXHAUSTED) {
      // Whatever the bytes were, the refusal names the field at fault.
      assert.equal(typeof field, 'string', `${where}: no field named: ${err.details}`);
      assert.ok(
        err.details.startsWith(`${field}: expected `),
        `${where}: ${err.details}`,
      );
    }
    return `${grpc.status[err.code]} ${c.expect?.field ?? field ?? ''}`.trim();
  }

  before(async () => {
    model = smallModel();
    server = await startTeacherServer({
      address: '127.0.0.1:0',
      model,
      metadata: smallMetadata(),
      maxBatch: MAX_BATCH,
      maxDelayMs: 1,
      queueLimit: 64 * MAX_BATCH,
      maxMessageBytes: MAX_MESSAGE_BYTES,
      logger: log,
    });
    raw = new grpc.Client(server.address, grpc.credentials.createInsecure());
    client = await TeacherClient.connect(server.address);
  });

  after(async () => {
    raw.close();
    client.close();
    await server.stop(1000);
    model.dispose();
  });

  test(`${CASES} seeded malformed unary requests: each refused with its code and field, or answered right`, {
    timeout: 60_000,
  }, async (t) => {
    const gen = generator(20261204);
    const tally = new Map<string, number>();
    const stop = Date.now() + TIME_LIMIT_MS;
    let sent = 0;
    while (sent < CASES && Date.now() < stop) {
      // A few in flight at once, as students send them.
      const batch = Array.from({ length: 4 }, () => gen.next());
      const replies = await Promise.all(batch.map((c) => send(c.bytes)));
      for (const [i, c] of batch.entries()) {
        const outcome = check(c, replies[i].err, replies[i].response);
        tally.set(outcome, (tally.get(outcome) ?? 0) + 1);
      }
      sent += batch.length;
    }
    t.diagnostic(`${sent} cases: ${[...tally].map(([k, n]) => `${k} ${n}`).join(', ')}`);
    assert.ok(sent >= 100, `only ${sent} cases within the time limit`);
    // Every fault kind was exercised.
    for (const field of [
      'images.dtype',
      'mix.images.shape',
      'images.data',
      'model',
      'temperature',
      'input',
      'mix.partner',
      'mix.lambda',
    ]) {
      assert.ok(
        [...tally.keys()].some((k) => k.endsWith(` ${field}`)),
        `no case for ${field}`,
      );
    }
    // A well-formed request still gets the right answer afterwards.
    const good = gen.valid();
    const reply = await send(encode(good));
    check(
      { kind: 'well-formed', bytes: encode(good), expect: null },
      reply.err,
      reply.response,
    );
    assert.equal(reply.err, null);
    assert.equal(await client.health(), 'SERVING');
  });

  test('Describe refuses undecodable bytes naming the request, then describes', async () => {
    const describe = teacherMethod<Buffer, unknown>('Describe');
    // The model field's length is a varint cut off after its first byte.
    const undecodable = Buffer.from([0x0a, 0x80]);
    const err = await new Promise<grpc.ServiceError | null>((resolve) => {
      raw.makeUnaryRequest(
        describe.path,
        (b: Buffer) => b,
        describe.responseDeserialize,
        undecodable,
        new grpc.Metadata(),
        { deadline: Date.now() + 10_000 },
        (e) => resolve(e),
      );
    });
    assert.ok(err, 'undecodable Describe bytes were answered OK');
    assert.equal(err.code, grpc.status.INVALID_ARGUMENT, err.details);
    assert.match(
      err.details,
      /^request: expected a DescribeRequest protobuf message, got 2 bytes/,
    );
    assert.equal(err.metadata.get(FIELD_METADATA_KEY)[0], 'request');
    assert.equal((await client.describe()).model, smallMetadata().model);
  });

  test('malformed requests and undecodable bytes on one stream fail alone; the stream keeps answering', {
    timeout: 60_000,
  }, async () => {
    const stream = raw.makeBidiStreamRequest(
      teacherMethod('SoftLabelsStream').path,
      (b: Buffer) => b,
      method.responseDeserialize,
    );
    const responses: SoftLabelsResponseMessage[] = [];
    const ended = new Promise<grpc.StatusObject>((resolve) => {
      stream.on('data', (m: SoftLabelsResponseMessage) => responses.push(m));
      stream.on('status', resolve);
      stream.on('error', () => {});
    });
    const gen = generator(7);
    const cases: Case[] = [];
    for (let i = 0; i < 120; i++) {
      const c = gen.next();
      if (c.expect?.code === grpc.status.RESOURCE_EXHAUSTED) continue; // would end the stream
      cases.push(c);
    }
    // Then two well-formed requests with ids no generated case uses.
    const goods = [gen.valid(), gen.valid()].map((g, i) => ({
      ...g,
      requestId: 9_000_001 + i,
    }));
    for (const c of cases) stream.write(c.bytes);
    for (const g of goods) stream.write(encode(g));
    stream.end();
    const status = await ended;
    assert.equal(status.code, grpc.status.OK, status.details);
    assert.equal(responses.length, cases.length + goods.length);
    for (const m of responses) {
      if (m.error) {
        assert.ok(REFUSALS.has(m.error.code), `${m.error.code} ${m.error.message}`);
        assert.ok(m.error.field, m.error.message);
        assert.ok(
          m.error.message.startsWith(`${m.error.field}: expected `),
          m.error.message,
        );
      }
    }
    for (const g of goods) {
      const m = responses.find((r) => r.requestId === g.requestId);
      assert.ok(m && !m.error && m.logits, `no answer to ${g.requestId}`);
      const expected = reference(
        method.requestDeserialize(encode(g)) as SoftLabelsRequestMessage,
      );
      const got = Buffer.from(m.logits.data);
      const values = new Float32Array(
        got.buffer.slice(got.byteOffset, got.byteOffset + got.length),
      );
      for (let i = 0; i < values.length; i++) {
        assert.ok(Math.abs(values[i] - expected[i]) <= 1e-4, `element ${i}`);
      }
    }
    // Faults with a known field were refused naming it (ids may repeat, so by count).
    const refusedFields = responses.filter((m) => m.error).map((m) => m.error!.field);
    for (const c of cases) {
      if (!c.expect?.field) continue;
      const i = refusedFields.indexOf(c.expect.field);
      assert.ok(i >= 0, `no refusal naming ${c.expect.field}`);
      refusedFields.splice(i, 1);
    }
  });
});
