/**
 * Requests larger than HTTP/2's default 64 KiB receive window (a batch of
 * 128 Fashion-MNIST images in uint8 is 100 KB): the teacher server
 * advertises a window that holds them whole, answers them exactly as
 * model.predict does, and fills coalesced batches up to `batchRows`.
 */
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import { after, before, describe, test } from 'node:test';
import type * as tfl from '@tensorflow/tfjs-layers';
import { initBackend, tf } from '@vicinal/backend';
import { normalisePixels, seededRandom } from '@vicinal/data';
import { mixImagesArray } from '@vicinal/distillation';
import { startTeacherServer, type TeacherServer } from '@vicinal/teacher-server';
import { createLogger } from '@vicinal/telemetry';
import { DEFAULT_SERVER_WINDOW_BYTES, TeacherClient } from '@vicinal/wire';
import {
  SMALL_PIXELS as PIXELS,
  SMALL,
  smallMetadata,
  smallModel,
} from './support/tfjs-teacher.js';

await initBackend('cpu');

const { h: H, w: W, c: C } = SMALL;
const metadata = smallMetadata();
const log = createLogger(
  'teacher-window-test',
  process.env.VICINAL_LOG_LEVEL ?? 'silent',
);
/** Rows whose uint8 images exceed 64 KiB (8x8x1 images: 64 bytes a row). */
const BIG_ROWS = 1600;

const random = seededRandom(5);
const pixelsU8 = (rows: number) =>
  Uint8Array.from({ length: rows * PIXELS }, () => Math.floor(random() * 256));

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>) {
  assert.equal(actual.length, expected.length, 'lengths');
  for (let i = 0; i < actual.length; i++) {
    const diff = Math.abs(actual[i] - expected[i]);
    assert.ok(diff <= 1e-5, `element ${i}: ${actual[i]} vs ${expected[i]}`);
  }
}

/** Waits until `ready()` holds, a bounded number of event-loop turns. */
async function eventually(ready: () => boolean, what: string) {
  for (let i = 0; i < 2000 && !ready(); i++) {
    await new Promise((r) => setTimeout(r, 1));
  }
  assert.ok(ready(), what);
}

describe('teacher server with requests over 64 KiB', () => {
  let model: tfl.LayersModel;
  let server: TeacherServer;
  let client: TeacherClient;

  /** What the server must answer: model.predict on float32 normalised rows. */
  const predict = (x: Float32Array) =>
    tf.tidy(() =>
      (
        model.predict(tf.tensor4d(x, [x.length / PIXELS, H, W, C])) as tf.Tensor
      ).dataSync(),
    ) as Float32Array;

  before(async () => {
    model = smallModel();
    server = await startTeacherServer({
      address: '127.0.0.1:0',
      model,
      metadata,
      maxBatch: 2048,
      batchRows: 128,
      maxDelayMs: 500,
      logger: log,
    });
    client = await TeacherClient.connect(server.address);
  });

  after(async () => {
    client.close();
    await server.stop(1000);
    model.dispose();
  });

  test('the server advertises a stream and connection window that hold a whole request', async () => {
    const session = http2.connect(`http://${server.address}`);
    try {
      const settings = await new Promise<http2.Settings>((resolve, reject) => {
        session.once('remoteSettings', resolve);
        session.once('error', reject);
      });
      assert.equal(settings.initialWindowSize, DEFAULT_SERVER_WINDOW_BYTES);
      await eventually(
        () => (session.state.remoteWindowSize ?? 0) >= DEFAULT_SERVER_WINDOW_BYTES,
        `connection window ${session.state.remoteWindowSize}, expected ` +
          `${DEFAULT_SERVER_WINDOW_BYTES}`,
      );
    } finally {
      session.close();
    }
  });

  test('a 100 KB mix request and a 200 KB float32 request get the logits of model.predict', async () => {
    const rows = BIG_ROWS;
    const images = pixelsU8(rows);
    const partner = Int32Array.from({ length: rows }, (_, i) => (i * 37 + 5) % rows);
    const lambda = Float32Array.from({ length: rows }, () => random());
    const clean = normalisePixels(images, metadata.mean, metadata.std);
    const mixed = mixImagesArray(clean, partner, lambda);
    const fromMix = await client.softLabels({
      mix: { images, shape: [rows, H, W, C], partner, lambda, returnConstituents: true },
    });
    assertClose(fromMix.logits, predict(mixed));
    assert.ok(fromMix.constituentLogits);
    assertClose(fromMix.constituentLogits, predict(clean));
    const x = clean.subarray(0, 800 * PIXELS);
    const fromImages = await client.softLabels({
      images: { data: x, shape: [800, H, W, C] },
    });
    assertClose(fromImages.logits, predict(x));
  });

  test('coalesced batches fill up to batchRows; the rest runs as the next batch', async () => {
    const queries = [64, 64, 64].map((rows) => {
      const images = pixelsU8(rows);
      return { images, x: normalisePixels(images, metadata.mean, metadata.std) };
    });
    // Sent together: the first two fill a batch of 128 rows, the third waits.
    const results = await Promise.all(
      queries.map((q) =>
        client.softLabels({ images: { data: q.images, shape: [64, H, W, C] } }),
      ),
    );
    assert.deepEqual(
      results.map((r) => r.timings.batchSize).sort((a, b) => a - b),
      [64, 128, 128],
    );
    for (const [i, result] of results.entries()) {
      assertClose(result.logits, predict(queries[i].x));
    }
    // One request of batchRows rows or more does not wait for company.
    const whole = pixelsU8(200);
    const big = await client.softLabels({
      images: { data: whole, shape: [200, H, W, C] },
    });
    assert.equal(big.timings.batchSize, 200);
    assertClose(big.logits, predict(normalisePixels(whole, metadata.mean, metadata.std)));
  });
});
