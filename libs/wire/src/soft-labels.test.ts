import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WireError } from './errors.js';
import type { SoftLabelsResponseMessage } from './messages.js';
import { decodeSoftLabelsResponse, encodeSoftLabelsQuery } from './soft-labels.js';
import { encodeTensor } from './tensor-codec.js';

test('an images query becomes a request with the tensor and defaults', () => {
  const data = new Float32Array(2 * 4);
  const { message, rows } = encodeSoftLabelsQuery(
    { images: { data, shape: [2, 2, 2, 1], dtype: 'float16' }, temperature: 2 },
    9,
  );
  assert.equal(rows, 2);
  assert.equal(message.requestId, 9);
  assert.equal(message.model, '');
  assert.equal(message.temperature, 2);
  assert.equal(message.images?.dtype, 'DTYPE_FLOAT16');
  assert.equal(message.images?.data.length, 16);
  assert.equal(message.mix, undefined);
});

test('a mix query carries uint8 images, partners and lambdas as plain arrays', () => {
  const { message, rows } = encodeSoftLabelsQuery(
    {
      model: 'm',
      mix: {
        images: new Uint8Array(3 * 4),
        shape: [3, 2, 2, 1],
        partner: Int32Array.from([2, 0, 1]),
        lambda: Float32Array.from([0.5, 1, 0]),
        returnConstituents: true,
      },
    },
    1,
  );
  assert.equal(rows, 3);
  assert.equal(message.mix?.images?.dtype, 'DTYPE_UINT8');
  assert.deepEqual(message.mix?.partner, [2, 0, 1]);
  assert.deepEqual(message.mix?.lambda, [0.5, 1, 0]);
  assert.equal(message.mix?.returnConstituents, true);
});

test('queries with neither or both inputs, or short partner/lambda lists, are refused', () => {
  assert.throws(
    () => encodeSoftLabelsQuery({}, 1),
    (e: unknown) => e instanceof WireError && e.field === 'input',
  );
  const mix = {
    images: new Uint8Array(8),
    shape: [2, 2, 2, 1],
    partner: [1, 0],
    lambda: [0.5],
  };
  assert.throws(
    () => encodeSoftLabelsQuery({ mix }, 1),
    (e: unknown) =>
      e instanceof WireError &&
      e.message === 'mix.lambda: expected 2 values (one per row), got 1',
  );
  assert.throws(
    () =>
      encodeSoftLabelsQuery(
        { mix, images: { data: new Uint8Array(8), shape: [2, 2, 2, 1] } },
        1,
      ),
    (e: unknown) => e instanceof WireError && e.field === 'input',
  );
});

function response(logits: Float32Array, shape: number[]): SoftLabelsResponseMessage {
  return {
    requestId: 4,
    model: 'm',
    modelVersion: 'v1',
    logits: encodeTensor(logits, shape),
    probabilities: false,
    constituentLogits: null,
    timings: { queueMs: 1.5, inferenceMs: 3, batchSize: 8 },
    error: null,
  };
}

test('a response is unpacked and checked against the request rows', () => {
  const result = decodeSoftLabelsResponse(response(new Float32Array(6), [2, 3]), 2);
  assert.deepEqual(result.shape, [2, 3]);
  assert.equal(result.logits.length, 6);
  assert.equal(result.constituentLogits, null);
  assert.deepEqual(result.timings, { queueMs: 1.5, inferenceMs: 3, batchSize: 8 });
  assert.throws(
    () => decodeSoftLabelsResponse(response(new Float32Array(6), [3, 2]), 2),
    (e: unknown) =>
      e instanceof WireError && e.message === 'logits.shape: expected [2,*], got [3,2]',
  );
  assert.throws(
    () => decodeSoftLabelsResponse(response(new Float32Array(6), [2, 3]), 2, true),
    (e: unknown) =>
      e instanceof WireError &&
      e.message === 'constituent_logits: expected a tensor, got none',
  );
});
