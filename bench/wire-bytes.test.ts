import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decodeTensor,
  encodeSoftLabelsQuery,
  type SoftLabelsRequestMessage,
  teacherMethod,
} from '@vicinal/wire';
import { benchSettings, measureWire } from './run-bench.js';
import { measureWireSize, queryFor, type SampleBatch } from './wire-bytes.js';

function sample(batch: number): { batch: SampleBatch; mixed: Float32Array } {
  const images = Uint8Array.from({ length: batch * 784 }, (_, i) => (i * 31) % 256);
  const partner = Int32Array.from({ length: batch }, (_, i) => (i + 1) % batch);
  const lambda = Float32Array.from({ length: batch }, (_, i) => (i % 10) / 10);
  const mixed = Float32Array.from(images, (v) => v / 255);
  const rows = Uint32Array.from({ length: batch }, (_, i) => (i * 7919) % 60_000);
  const dataset = `sha256:${'ab'.repeat(32)}`;
  return {
    batch: { images, shape: [batch, 28, 28, 1], partner, lambda, rows, dataset },
    mixed,
  };
}

test('request sizes hold the payload plus a little framing', () => {
  const { batch, mixed } = sample(128);
  const pixels = 128 * 784;
  const f32 = measureWireSize('float32', batch, mixed, 10);
  const f16 = measureWireSize('float16', batch, mixed, 10);
  const u8 = measureWireSize('uint8-mix', batch, mixed, 10);
  assert.ok(f32.requestBytes >= 4 * pixels && f32.requestBytes < 4 * pixels + 64);
  assert.ok(f16.requestBytes >= 2 * pixels && f16.requestBytes < 2 * pixels + 64);
  // uint8 pixels, a varint partner index and a float lambda per row.
  assert.ok(
    u8.requestBytes >= pixels + 128 * 5 && u8.requestBytes < pixels + 128 * 6 + 64,
  );
  assert.equal(u8.requestBytesPerSample, u8.requestBytes / 128);
  assert.ok(u8.requestBytes / f32.requestBytes <= 0.3);
  // Rows: a varint row number (up to 3 bytes below 60,000), a varint partner
  // and a float lambda per row, and the 71-character fingerprint.
  const rows = measureWireSize('rows', batch, mixed, 10);
  assert.ok(rows.requestBytes >= 128 * 6 + 71, `${rows.requestBytes}`);
  assert.ok(rows.requestBytes <= 128 * 9 + 71 + 64, `${rows.requestBytes}`);
  assert.ok(rows.requestBytes / u8.requestBytes < 0.015);
  // Logits [128,10] float32 dominate the response.
  assert.ok(f32.responseBytes >= 128 * 10 * 4 && f32.responseBytes < 128 * 10 * 4 + 96);
});

test('what is measured is the real request: it decodes back to the batch', () => {
  const { batch, mixed } = sample(32);
  const method = teacherMethod<SoftLabelsRequestMessage, unknown>('SoftLabels');
  for (const mode of ['float32', 'uint8-mix', 'rows'] as const) {
    const { message } = encodeSoftLabelsQuery(queryFor(mode, batch, mixed), 1);
    const bytes = method.requestSerialize(message);
    assert.equal(bytes.length, measureWireSize(mode, batch, mixed, 10).requestBytes);
    const back = method.requestDeserialize(bytes);
    if (mode === 'float32') {
      assert.deepEqual(decodeTensor(back.images, 'images').data, mixed);
    } else if (mode === 'rows') {
      assert.equal(back.input, 'rows');
      assert.deepEqual(back.rows?.rows, Array.from(batch.rows));
      assert.equal(back.rows?.dataset, batch.dataset);
      assert.deepEqual(back.rows?.partner, Array.from(batch.partner));
    } else {
      assert.deepEqual(decodeTensor(back.mix?.images, 'mix.images').data, batch.images);
      assert.deepEqual(back.mix?.partner, Array.from(batch.partner));
    }
  }
});

test('the bench measures every mode at every batch size for both shapes', () => {
  const sizes = measureWire(benchSettings({ quick: true }));
  assert.equal(sizes.length, 2 * 3 * 4);
  const keys = new Set(sizes.map((s) => `${s.mode}/${s.batch}/${s.shape.join('x')}`));
  assert.equal(keys.size, sizes.length);
  assert.ok(keys.has('uint8-mix/128/28x28x1'));
  assert.ok(keys.has('float16/512/32x32x3'));
  assert.ok(keys.has('rows/128/28x28x1'));
});
