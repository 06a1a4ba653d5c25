import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WireError } from './errors.js';
import type { TensorMessage } from './messages.js';
import { teacherMethod } from './proto.js';
import { decodeTensor, dtypeEnum, dtypeFromEnum, encodeTensor } from './tensor-codec.js';

function wireError(fn: () => unknown, field: string, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof WireError, `expected a WireError, got ${err}`);
    assert.equal(err.field, field);
    assert.equal(err.message, `${field}: ${message}`);
    return true;
  });
}

/** Sends a tensor through real protobuf (de)serialisation, as gRPC would. */
function overTheWire(tensor: TensorMessage): TensorMessage {
  const method = teacherMethod<{ images: TensorMessage }, { images: TensorMessage }>(
    'SoftLabels',
  );
  return method.requestDeserialize(method.requestSerialize({ images: tensor })).images;
}

test('float32 round trip; the encoded bytes are a view of the caller array', () => {
  const data = Float32Array.from([1.5, -2.25, 3e-8, 65536.5, 0, -0]);
  const msg = encodeTensor(data, [2, 3]);
  assert.equal(msg.dtype, 'DTYPE_FLOAT32');
  assert.equal(msg.data.buffer, data.buffer);
  const back = decodeTensor(overTheWire(msg), 'x');
  assert.equal(back.dtype, 'float32');
  assert.deepEqual(back.shape, [2, 3]);
  assert.deepEqual(back.data, data);
});

test('uint8 round trip without copying on encode', () => {
  const data = Uint8Array.from([0, 1, 128, 255]);
  const msg = encodeTensor(data, [1, 2, 2, 1]);
  assert.equal(msg.dtype, 'DTYPE_UINT8');
  assert.equal(msg.data.buffer, data.buffer);
  const back = decodeTensor(overTheWire(msg), 'x', { dtypes: ['uint8'] });
  assert.equal(back.dtype, 'uint8');
  assert.deepEqual([...back.data], [0, 1, 128, 255]);
});

test('float16 round trip is within half precision and halves the bytes', () => {
  const data = Float32Array.from([0.1, -1.7, 3.3, 1000.3, 1e-6, 0]);
  const msg = encodeTensor(data, [6], 'float16');
  assert.equal(msg.dtype, 'DTYPE_FLOAT16');
  assert.equal(msg.data.length, 12);
  const back = decodeTensor(overTheWire(msg), 'x');
  assert.equal(back.dtype, 'float16');
  assert.ok(back.data instanceof Float32Array);
  back.data.forEach((v, i) => {
    const tolerance = Math.max(Math.abs(data[i]) * 2 ** -11, 2 ** -25);
    assert.ok(Math.abs(v - data[i]) <= tolerance, `${data[i]} -> ${v}`);
  });
});

test('unaligned float32 bytes are copied, not misread', () => {
  const bytes = Buffer.alloc(9);
  new DataView(bytes.buffer, bytes.byteOffset).setFloat32(1, 2.5, true);
  new DataView(bytes.buffer, bytes.byteOffset).setFloat32(5, -1, true);
  const msg: TensorMessage = {
    dtype: 'DTYPE_FLOAT32',
    shape: [2],
    data: bytes.subarray(1),
  };
  assert.deepEqual(decodeTensor(msg, 'x').data, Float32Array.from([2.5, -1]));
});

test('dtype enum names and numbers map both ways', () => {
  assert.equal(dtypeEnum('float16'), 'DTYPE_FLOAT16');
  assert.equal(dtypeFromEnum('DTYPE_UINT8'), 'uint8');
  assert.equal(dtypeFromEnum(1), 'float32');
  assert.equal(dtypeFromEnum('DTYPE_UNSPECIFIED'), null);
  assert.equal(dtypeFromEnum(9), null);
});

test('encode rejects a shape that does not match the data, and mismatched arrays', () => {
  wireError(
    () => encodeTensor(new Float32Array(6), [4, 2]),
    'tensor.shape',
    'expected a shape whose product is the 6 elements given, got [4,2]',
  );
  wireError(
    () => encodeTensor(new Float32Array(2), [2], 'uint8'),
    'tensor.dtype',
    'expected Uint8Array data for uint8, got Float32Array',
  );
  wireError(
    () => encodeTensor(new Uint8Array(2), [2], 'float16'),
    'tensor.dtype',
    'expected Float32Array data for float16, got Uint8Array',
  );
});

const image = (
  shape: number[],
  dtype = 'DTYPE_FLOAT32',
  bytes?: number,
): TensorMessage => ({
  dtype: dtype as TensorMessage['dtype'],
  shape,
  data: Buffer.alloc(bytes ?? shape.reduce((a, b) => a * b, 1) * 4),
});
const imageExpect = { shape: [null, 28, 28, 1], maxBatch: 64 } as const;

test('a missing tensor and unknown or refused dtypes', () => {
  wireError(() => decodeTensor(null, 'images'), 'images', 'expected a tensor, got none');
  wireError(
    () => decodeTensor(image([1], 'DTYPE_UNSPECIFIED'), 'images'),
    'images.dtype',
    'expected one of DTYPE_FLOAT32, DTYPE_FLOAT16, DTYPE_UINT8, got DTYPE_UNSPECIFIED',
  );
  wireError(
    () => decodeTensor({ ...image([1]), dtype: 7 }, 'images'),
    'images.dtype',
    'expected one of DTYPE_FLOAT32, DTYPE_FLOAT16, DTYPE_UINT8, got 7',
  );
  wireError(
    () => decodeTensor(image([1]), 'mix.images', { dtypes: ['uint8'] }),
    'mix.images.dtype',
    'expected one of DTYPE_UINT8, got DTYPE_FLOAT32',
  );
});

test('wrong rank, wrong H/W/C, empty and oversized batches name the expected shape', () => {
  const want = 'expected [B,28,28,1] with 1 <= B <= 64, got';
  wireError(
    () => decodeTensor(image([2, 784]), 'images', imageExpect),
    'images.shape',
    `${want} [2,784]`,
  );
  wireError(
    () => decodeTensor(image([2, 28, 28, 3]), 'images', imageExpect),
    'images.shape',
    `${want} [2,28,28,3]`,
  );
  wireError(
    () => decodeTensor(image([2, 32, 28, 1]), 'images', imageExpect),
    'images.shape',
    `${want} [2,32,28,1]`,
  );
  wireError(
    () => decodeTensor(image([0, 28, 28, 1]), 'images', imageExpect),
    'images.shape',
    `${want} [0,28,28,1]`,
  );
  wireError(
    () => decodeTensor(image([65, 28, 28, 1]), 'images', imageExpect),
    'images.shape',
    `${want} [65,28,28,1]`,
  );
  wireError(() => decodeTensor(image([]), 'x'), 'x.shape', 'expected [B,...], got []');
  wireError(
    () => decodeTensor(image([3, 0]), 'y', { shape: [3, null] }),
    'y.shape',
    'expected [3,*], got [3,0]',
  );
});

test('byte length must be the product of the shape times the item size', () => {
  wireError(
    () =>
      decodeTensor(image([2, 28, 28, 1], 'DTYPE_FLOAT32', 6000), 'images', imageExpect),
    'images.data',
    'expected 6272 bytes (2x28x28x1 float32, 4 bytes each), got 6000 bytes',
  );
  wireError(
    () =>
      decodeTensor(image([2, 28, 28, 1], 'DTYPE_FLOAT16', 6272), 'images', imageExpect),
    'images.data',
    'expected 3136 bytes (2x28x28x1 float16, 2 bytes each), got 6272 bytes',
  );
  wireError(
    () => decodeTensor(image([1, 28, 28, 1], 'DTYPE_UINT8', 785), 'images', imageExpect),
    'images.data',
    'expected 784 bytes (1x28x28x1 uint8, 1 bytes each), got 785 bytes',
  );
});

test('NaN and infinities are refused in float32 and float16 unless allowed', () => {
  const values = Float32Array.from([0, 1, Number.NaN, 2]);
  wireError(
    () => decodeTensor(encodeTensor(values, [4]), 'images'),
    'images.data',
    'expected finite values, got NaN at element 2',
  );
  const inf = Float32Array.from([Number.NEGATIVE_INFINITY, 0]);
  wireError(
    () => decodeTensor(encodeTensor(inf, [2], 'float16'), 'images'),
    'images.data',
    'expected finite values, got -Infinity at element 0',
  );
  // 1e5 is finite in float32 but overflows half precision on encode.
  wireError(
    () => decodeTensor(encodeTensor(Float32Array.from([1e5]), [1], 'float16'), 'images'),
    'images.data',
    'expected finite values, got Infinity at element 0',
  );
  const ok = decodeTensor(encodeTensor(values, [4]), 'x', { allowNonFinite: true });
  assert.ok(Number.isNaN(ok.data[2]));
});
