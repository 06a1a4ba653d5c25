import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend, tf } from '@vicinal/backend';
import { normalisePixels, seededRandom } from '@vicinal/data';
import {
  startTeacherServer,
  type TeacherMetadata,
  type TeacherServer,
} from '@vicinal/teacher-server';
import { createLogger } from '@vicinal/telemetry';
import {
  decodeFloat16,
  encodeFloat16,
  type SoftLabelsRequestMessage,
  type SoftLabelsResponseMessage,
  TeacherCallError,
  TeacherClient,
  type TensorMessage,
  teacherMethod,
} from '@vicinal/wire';
import { service as healthService } from 'grpc-health-check';

await initBackend('cpu');

const H = 28;
const W = 28;
const C = 1;
const K = 10;
const PIXELS = H * W * C;
const MAX_BATCH = 16;
const MAX_MESSAGE_BYTES = 128 * 1024;
const log = createLogger(
  'teacher-server-test',
  process.env.VICINAL_LOG_LEVEL ?? 'silent',
);

const metadata: TeacherMetadata = {
  model: 'tiny-teacher',
  version: 'v3',
  architecture: 'tiny-cnn',
  parameters: 0,
  inputShape: [H, W, C],
  numClasses: K,
  classNames: Array.from({ length: K }, (_, i) => `class-${i}`),
  mean: [0.286],
  std: [0.353],
  dataset: 'fashion-mnist',
  backend: 'cpu',
};

/** A small seeded conv net: conv 3x3 stride 2 -> flatten -> dense(10). */
function tinyModel(): tfl.LayersModel {
  const model = tfl.sequential();
  model.add(
    tfl.layers.conv2d({
      inputShape: [H, W, C],
      filters: 4,
      kernelSize: 3,
      strides: 2,
      activation: 'relu',
      kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }),
      biasInitializer: tfl.initializers.constant({ value: 0.05 }),
    }),
  );
  model.add(tfl.layers.flatten());
  model.add(
    tfl.layers.dense({
      units: K,
      kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }),
    }),
  );
  return model;
}

const random = seededRandom(11);
const pixelsU8 = (rows: number) =>
  Uint8Array.from({ length: rows * PIXELS }, () => Math.floor(random() * 256));
const normalised = (images: Uint8Array) =>
  normalisePixels(images, metadata.mean, metadata.std);

function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: number,
) {
  assert.equal(actual.length, expected.length, 'lengths');
  for (let i = 0; i < actual.length; i++) {
    const diff = Math.abs(actual[i] - expected[i]);
    assert.ok(
      diff <= tol,
      `element ${i}: ${actual[i]} vs ${expected[i]} (|diff| ${diff} > ${tol})`,
    );
  }
}

/** A client that sends hand-built messages, to test what the typed client refuses. */
class RawClient {
  private readonly client: grpc.Client;
  constructor(address: string) {
    this.client = new grpc.Client(address, grpc.credentials.createInsecure());
  }
  softLabels(message: Partial<SoftLabelsRequestMessage>): Promise<grpc.ServiceError> {
    const method = teacherMethod<
      Partial<SoftLabelsRequestMessage>,
      SoftLabelsResponseMessage
    >('SoftLabels');
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        message,
        (err) => (err ? resolve(err) : reject(new Error('expected the call to fail'))),
      );
    });
  }
  /** grpc.health.v1 Watch: yields the statuses the server sends. */
  watchHealth(): grpc.ClientReadableStream<{ status: string }> {
    const method = healthService.Watch as grpc.MethodDefinition<
      { service: string },
      { status: string }
    >;
    return this.client.makeServerStreamRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      { service: '' },
    );
  }
  close() {
    this.client.close();
  }
}

const f32Tensor = (shape: number[], bytes: number): TensorMessage => ({
  dtype: 'DTYPE_FLOAT32',
  shape,
  data: Buffer.alloc(bytes),
});
const u8Tensor = (rows: number): TensorMessage => ({
  dtype: 'DTYPE_UINT8',
  shape: [rows, H, W, C],
  data: Buffer.from(pixelsU8(rows)),
});

describe('teacher server over loopback gRPC', () => {
  let model: tfl.LayersModel;
  let server: TeacherServer;
  let client: TeacherClient;
  let raw: RawClient;

  /** model.predict on float32 normalised rows. */
  async function predict(x: Float32Array): Promise<Float32Array> {
    const y = tf.tidy(
      () => model.predict(tf.tensor4d(x, [x.length / PIXELS, H, W, C])) as tf.Tensor,
    );
    const data = (await y.data()) as Float32Array;
    y.dispose();
    return data;
  }

  before(async () => {
    model = tinyModel();
    server = await startTeacherServer({
      address: '127.0.0.1:0',
      model,
      metadata,
      maxBatch: MAX_BATCH,
      maxDelayMs: 5,
      queueLimit: 8 * MAX_BATCH,
      maxMessageBytes: MAX_MESSAGE_BYTES,
      logger: log,
    });
    client = await TeacherClient.connect(server.address);
    raw = new RawClient(server.address);
  });

  after(async () => {
    client.close();
    raw.close();
    await server.stop(1000);
    model.dispose();
  });

  test('health is SERVING and Describe reports the model', async () => {
    assert.equal(await client.health(), 'SERVING');
    assert.equal(await client.health('vicinal.teacher.v1.TeacherService'), 'SERVING');
    const d = await client.describe();
    assert.equal(d.model, 'tiny-teacher');
    assert.equal(d.modelVersion, 'v3');
    assert.equal(d.architecture, 'tiny-cnn');
    assert.deepEqual(d.inputShape, [28, 28, 1]);
    assert.deepEqual(d.acceptedDtypes, ['float32', 'float16', 'uint8']);
    assert.equal(d.mean.length, 1);
    assert.ok(Math.abs(d.mean[0] - 0.286) < 1e-6 && Math.abs(d.std[0] - 0.353) < 1e-6);
    assert.equal(d.numClasses, 10);
    assert.equal(d.classNames[3], 'class-3');
    assert.equal(d.calibrationTemperature, null);
    assert.equal(d.backend, 'cpu');
    assert.equal(d.maxBatch, MAX_BATCH);
    assert.equal(d.maxMessageBytes, MAX_MESSAGE_BYTES);
    assert.equal(d.dataset, 'fashion-mnist');
    await assert.rejects(client.describe('other'), (err: unknown) => {
      assert.ok(err instanceof TeacherCallError);
      assert.equal(err.code, grpc.status.NOT_FOUND);
      assert.equal(err.field, 'model');
      return true;
    });
  });

  test('float32 images give the logits of model.predict', async () => {
    const x = normalised(pixelsU8(3));
    const result = await client.softLabels({
      requestId: 41,
      images: { data: x, shape: [3, H, W, C] },
    });
    assert.equal(result.requestId, 41);
    assert.equal(result.model, 'tiny-teacher');
    assert.equal(result.modelVersion, 'v3');
    assert.deepEqual(result.shape, [3, K]);
    assert.equal(result.probabilities, false);
    assert.equal(result.constituentLogits, null);
    assert.ok(result.timings.batchSize >= 3);
    assertClose(result.logits, await predict(x), 1e-5);
  });

  test('float16 images give the logits of the half-precision inputs', async () => {
    const x = normalised(pixelsU8(2));
    const result = await client.softLabels({
      images: { data: x, shape: [2, H, W, C], dtype: 'float16' },
    });
    const halved = decodeFloat16(encodeFloat16(x));
    assertClose(result.logits, await predict(halved), 1e-5);
    // And close to the full-precision answer, within what halving the inputs costs.
    assertClose(result.logits, await predict(x), 2e-2);
  });

  test('uint8 images are normalised on the server with the served mean/std', async () => {
    const images = pixelsU8(4);
    const result = await client.softLabels({
      images: { data: images, shape: [4, H, W, C] },
    });
    assertClose(result.logits, await predict(normalised(images)), 1e-5);
  });

  test('a temperature returns softmax(logits / T)', async () => {
    const x = normalised(pixelsU8(2));
    const result = await client.softLabels({
      images: { data: x, shape: [2, H, W, C] },
      temperature: 2,
    });
    assert.equal(result.probabilities, true);
    const logits = await predict(x);
    for (let r = 0; r < 2; r++) {
      const row = Array.from(logits.subarray(r * K, (r + 1) * K));
      const max = Math.max(...row);
      const e = row.map((v) => Math.exp((v - max) / 2));
      const sum = e.reduce((a, b) => a + b, 0);
      assertClose(
        result.logits.subarray(r * K, (r + 1) * K),
        e.map((v) => v / sum),
        1e-6,
      );
    }
  });

  test('MixSpec gives the logits of the mixed batch the client builds itself', async () => {
    const rows = 6;
    const images = pixelsU8(rows);
    const partner = [3, 0, 5, 1, 4, 2];
    const lambda = [0.3, 1, 0, 0.5, 0.77, 0.01];
    const clean = normalised(images);
    const mixed = new Float32Array(rows * PIXELS);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < PIXELS; j++) {
        mixed[i * PIXELS + j] =
          lambda[i] * clean[i * PIXELS + j] +
          (1 - lambda[i]) * clean[partner[i] * PIXELS + j];
      }
    }
    const [fromMix, fromImages] = await Promise.all([
      client.softLabels({
        mix: {
          images,
          shape: [rows, H, W, C],
          partner,
          lambda,
          returnConstituents: true,
        },
      }),
      client.softLabels({ images: { data: mixed, shape: [rows, H, W, C] } }),
    ]);
    assertClose(fromMix.logits, fromImages.logits, 1e-5);
    assert.ok(fromMix.constituentLogits);
    assertClose(fromMix.constituentLogits, await predict(clean), 1e-5);
    // Rows mixed with lambda 1 are their own clean image.
    assertClose(
      fromMix.logits.subarray(K, 2 * K),
      fromMix.constituentLogits.subarray(K, 2 * K),
      1e-5,
    );
    const without = await client.softLabels({
      mix: { images, shape: [rows, H, W, C], partner, lambda },
    });
    assert.equal(without.constituentLogits, null);
    assertClose(without.logits, fromImages.logits, 1e-5);
  });

  test('a stream keeps several requests in flight and answers each by id', async () => {
    const stream = client.stream();
    const batches = [1, 3, 2, 5, 4].map((rows) => normalised(pixelsU8(rows)));
    const pending = batches.map((x) =>
      stream.softLabels({ images: { data: x, shape: [x.length / PIXELS, H, W, C] } }),
    );
    assert.equal(stream.inFlight, 5);
    // A bad request on the same stream fails alone; the others still succeed.
    const bad = stream.softLabels({
      requestId: 99,
      images: { data: new Float32Array(2 * PIXELS), shape: [2, H, W, 1] },
      temperature: -1,
    });
    await assert.rejects(bad, (err: unknown) => {
      assert.ok(err instanceof TeacherCallError);
      assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
      assert.equal(err.field, 'temperature');
      return true;
    });
    const results = await Promise.all(pending);
    const ids = results.map((r) => r.requestId);
    assert.equal(new Set(ids).size, 5);
    for (const [i, result] of results.entries()) {
      assert.deepEqual(result.shape, [batches[i].length / PIXELS, K]);
      assertClose(result.logits, await predict(batches[i]), 1e-5);
    }
    const mix = await stream.softLabels({
      mix: {
        images: pixelsU8(2),
        shape: [2, H, W, C],
        partner: [1, 0],
        lambda: [0.5, 0.5],
      },
    });
    // Symmetric partners at lambda 0.5 build the same image twice.
    assertClose(mix.logits.subarray(0, K), mix.logits.subarray(K), 1e-5);
    await stream.close();
    assert.equal(stream.inFlight, 0);
  });

  test('bad requests get INVALID_ARGUMENT naming the field, expected and received', async () => {
    const cases: [string, Partial<SoftLabelsRequestMessage>, string, RegExp][] = [
      [
        'unknown dtype',
        {
          images: { ...f32Tensor([1, H, W, C], PIXELS * 4), dtype: 'DTYPE_UNSPECIFIED' },
        },
        'images.dtype',
        /expected one of DTYPE_FLOAT32, DTYPE_FLOAT16, DTYPE_UINT8, got DTYPE_UNSPECIFIED/,
      ],
      [
        'wrong channels',
        { images: f32Tensor([2, H, W, 3], 2 * PIXELS * 3 * 4) },
        'images.shape',
        /expected \[B,28,28,1\] with 1 <= B <= 16, got \[2,28,28,3\]/,
      ],
      [
        'wrong height',
        { images: f32Tensor([1, 32, W, C], 32 * W * 4) },
        'images.shape',
        /got \[1,32,28,1\]/,
      ],
      [
        'byte length',
        { images: f32Tensor([2, H, W, C], 1000) },
        'images.data',
        /expected 6272 bytes \(2x28x28x1 float32, 4 bytes each\), got 1000 bytes/,
      ],
      [
        'empty batch',
        { images: f32Tensor([0, H, W, C], 0) },
        'images.shape',
        /got \[0,28,28,1\]/,
      ],
      [
        'batch over maxBatch',
        { images: f32Tensor([17, H, W, C], 17 * PIXELS * 4) },
        'images.shape',
        /1 <= B <= 16, got \[17,28,28,1\]/,
      ],
      [
        'NaN',
        {
          images: {
            dtype: 'DTYPE_FLOAT32',
            shape: [1, H, W, C],
            data: Buffer.from(new Float32Array(PIXELS).fill(Number.NaN).buffer),
          },
        },
        'images.data',
        /expected finite values, got NaN at element 0/,
      ],
      [
        'infinity in float16',
        {
          images: {
            dtype: 'DTYPE_FLOAT16',
            shape: [1, H, W, C],
            data: Buffer.from(encodeFloat16(new Float32Array(PIXELS).fill(1e6))),
          },
        },
        'images.data',
        /expected finite values, got Infinity at element 0/,
      ],
      [
        'no input',
        { requestId: 3 },
        'input',
        /expected one of images, mix and rows, got none/,
      ],
      [
        'negative temperature',
        { images: u8Tensor(1), temperature: -0.5 },
        'temperature',
        /expected 0 \(raw logits\) or a finite value > 0, got -0.5/,
      ],
      [
        'float mix images',
        {
          mix: {
            images: f32Tensor([1, H, W, C], PIXELS * 4),
            partner: [0],
            lambda: [1],
            returnConstituents: false,
          },
        },
        'mix.images.dtype',
        /expected one of DTYPE_UINT8, got DTYPE_FLOAT32/,
      ],
      [
        'partner out of range',
        {
          mix: {
            images: u8Tensor(3),
            partner: [0, 3, 1],
            lambda: [1, 1, 1],
            returnConstituents: false,
          },
        },
        'mix.partner',
        /expected row indices < 3, got 3 at row 1/,
      ],
      [
        'lambda above 1',
        {
          mix: {
            images: u8Tensor(2),
            partner: [1, 0],
            lambda: [0.5, 1.5],
            returnConstituents: false,
          },
        },
        'mix.lambda',
        /expected values in \[0, 1\], got 1.5 at row 1/,
      ],
      [
        'lambda below 0',
        {
          mix: {
            images: u8Tensor(1),
            partner: [0],
            lambda: [-0.25],
            returnConstituents: false,
          },
        },
        'mix.lambda',
        /expected values in \[0, 1\], got -0.25 at row 0/,
      ],
      [
        'partner count',
        {
          mix: {
            images: u8Tensor(3),
            partner: [0, 1],
            lambda: [1, 1, 1],
            returnConstituents: false,
          },
        },
        'mix.partner',
        /expected 3 indices \(one per row of mix.images\), got 2/,
      ],
      [
        'lambda count',
        {
          mix: {
            images: u8Tensor(2),
            partner: [0, 1],
            lambda: [1, 1, 1],
            returnConstituents: false,
          },
        },
        'mix.lambda',
        /expected 2 values \(one per row of mix.images\), got 3/,
      ],
    ];
    for (const [name, message, field, pattern] of cases) {
      const err = await raw.softLabels(message);
      assert.equal(err.code, grpc.status.INVALID_ARGUMENT, `${name}: ${err.details}`);
      assert.ok(err.details.startsWith(`${field}: `), `${name}: ${err.details}`);
      assert.match(err.details, pattern, name);
      assert.deepEqual(err.metadata.get('vicinal-field'), [field], name);
    }
    // The typed client reports the same through TeacherCallError.
    await assert.rejects(
      client.softLabels({
        images: { data: new Float32Array(2 * 28 * 28 * 3), shape: [2, H, W, 3] },
      }),
      (err: unknown) =>
        err instanceof TeacherCallError &&
        err.code === grpc.status.INVALID_ARGUMENT &&
        err.field === 'images.shape',
    );
    // ...and the server still answers.
    const x = normalised(pixelsU8(1));
    const ok = await client.softLabels({ images: { data: x, shape: [1, H, W, C] } });
    assertClose(ok.logits, await predict(x), 1e-5);
    assert.equal(await client.health(), 'SERVING');
  });

  test('an unknown model is NOT_FOUND; an oversized message RESOURCE_EXHAUSTED', async () => {
    const notFound = await raw.softLabels({ model: 'resnet', images: u8Tensor(1) });
    assert.equal(notFound.code, grpc.status.NOT_FOUND);
    assert.match(
      notFound.details,
      /^model: expected "tiny-teacher" \(or empty for the default\), got "resnet"$/,
    );
    const named = await client.softLabels({
      model: 'tiny-teacher',
      images: { data: pixelsU8(1), shape: [1, H, W, C] },
    });
    assert.deepEqual(named.shape, [1, K]);
    const huge = await raw.softLabels({
      images: f32Tensor([50, H, W, C], 50 * PIXELS * 4),
    });
    assert.equal(huge.code, grpc.status.RESOURCE_EXHAUSTED);
    const again = await client.softLabels({
      images: { data: pixelsU8(2), shape: [2, H, W, C] },
    });
    assert.deepEqual(again.shape, [2, K]);
  });
});

describe('batching and back-pressure', () => {
  test('concurrent requests from several clients are coalesced', async () => {
    const model = tinyModel();
    // A long window and a batch that four requests fill exactly: they run
    // together as soon as all have arrived.
    const server = await startTeacherServer({
      address: '127.0.0.1:0',
      model,
      metadata,
      maxBatch: 8,
      maxDelayMs: 2000,
      logger: log,
    });
    const clients = await Promise.all(
      [0, 1, 2].map(() => TeacherClient.connect(server.address)),
    );
    try {
      const inputs = [0, 1, 2, 3].map(() => pixelsU8(2));
      const results = await Promise.all(
        inputs.map((images, i) =>
          clients[i % clients.length].softLabels({
            images: { data: images, shape: [2, H, W, C] },
          }),
        ),
      );
      assert.ok(
        results.some((r) => r.timings.batchSize > 2),
        `batch sizes ${results.map((r) => r.timings.batchSize)}`,
      );
      for (const r of results) assert.ok(r.timings.batchSize <= 8);
      for (const [i, r] of results.entries()) {
        const expected = tf.tidy(() =>
          (
            model.predict(tf.tensor4d(normalised(inputs[i]), [2, H, W, C])) as tf.Tensor
          ).dataSync(),
        );
        assertClose(r.logits, expected, 1e-5);
      }
    } finally {
      for (const c of clients) c.close();
      await server.stop(1000);
      model.dispose();
    }
  });

  test('a full queue answers RESOURCE_EXHAUSTED; a drain finishes in-flight work', async () => {
    // An infer function that holds each batch until the test releases it.
    const gates: (() => void)[] = [];
    const entered: number[] = [];
    const infer = async (input: Float32Array, shape: readonly number[]) => {
      entered.push(shape[0]);
      await new Promise<void>((r) => gates.push(r));
      const out = new Float32Array(shape[0] * K);
      for (let i = 0; i < shape[0]; i++) out[i * K] = input[i * PIXELS];
      return out;
    };
    const server = await startTeacherServer({
      address: '127.0.0.1:0',
      model: infer,
      metadata,
      maxBatch: 4,
      maxDelayMs: 0,
      queueLimit: 4,
      logger: log,
    });
    const client = await TeacherClient.connect(server.address);
    const raw = new RawClient(server.address);
    const until = async (cond: () => boolean) => {
      while (!cond()) await new Promise((r) => setTimeout(r, 5));
    };
    try {
      const first = client.softLabels({
        images: { data: pixelsU8(4), shape: [4, H, W, C] },
      });
      await until(() => gates.length === 1);
      const second = client.softLabels({
        images: { data: pixelsU8(4), shape: [4, H, W, C] },
      });
      await until(() => server.stats().queuedRows === 4);
      await assert.rejects(
        client.softLabels({ images: { data: pixelsU8(1), shape: [1, H, W, C] } }),
        (err: unknown) => {
          assert.ok(err instanceof TeacherCallError);
          assert.equal(err.code, grpc.status.RESOURCE_EXHAUSTED);
          assert.match(err.message, /4 rows waiting \+ 1 requested > limit 4/);
          return true;
        },
      );
      // Watch health, then drain while the first batch is still inside the model.
      const watch = raw.watchHealth();
      const statuses: string[] = [];
      const sawNotServing = new Promise<void>((resolve) => {
        watch.on('data', (m: { status: string }) => {
          statuses.push(m.status);
          if (m.status === 'NOT_SERVING') resolve();
        });
      });
      watch.on('error', () => {}); // cancelled below
      await until(() => statuses.length === 1);
      const stopped = server.stop(5000);
      await sawNotServing;
      watch.cancel();
      assert.deepEqual(statuses, ['SERVING', 'NOT_SERVING']);
      gates.shift()!();
      await until(() => gates.length === 1);
      gates.shift()!();
      const [a, b] = await Promise.all([first, second]);
      assert.deepEqual(a.shape, [4, K]);
      assert.deepEqual(b.shape, [4, K]);
      assert.deepEqual(entered, [4, 4]);
      await stopped;
    } finally {
      client.close();
      raw.close();
      for (const open of gates) open();
      await server.stop(100);
    }
  });
});
